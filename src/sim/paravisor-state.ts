/**
 * A simulated Azure TDX confidential VM kept beside a simulated platform's state (`tdx-attest sim init --platform
 * azure`): the vTPM's attestation key (`DIR/azure-ak.key`, PKCS#8 PEM, mode 0600) and `DIR/azure.json` (format,
 * vmUniqueId, the endorsement key's public JWK), written last. Its presence makes the state an Azure TD: the
 * guest's `sim` provider then acts as an Azure TDX CVM (az-tdx-vtpm evidence through the vTPM, no TD quote over a
 * REPORTDATA of the guest's choosing), so the Azure flow runs across processes as on a real VM.
 *
 * The vTPM's PCRs and NV indices are not persisted: each process boots the paravisor anew (the simulated measured
 * boot is deterministic, the HCL report is regenerated from the TD at start and after each report-data write), as
 * a VM's vTPM starts over at every boot while its AK stays.
 */
import { createPrivateKey, type KeyObject, randomUUID } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { newKeyPair } from "../crypto/keygen.js";
import { TdxError } from "../errors.js";
import { newRsaPublicJwk, SimAzureParavisor, type SimAzureParavisorOptions } from "./paravisor.js";
import { loadSimPlatform, type SimPlatform, writeAtomic } from "./platform.js";
import { withStateLock } from "./state-lock.js";

export const SIM_AZURE_RECORD_FILE = "azure.json";
export const SIM_AZURE_AK_FILE = "azure-ak.key";
const FORMAT = "tdx-attest-sim-azure/1";

interface AzureRecord {
  format: typeof FORMAT;
  vmUniqueId: string;
  ek: { kty: "RSA"; n: string; e: string };
}

/** True when `dir` holds a simulated Azure paravisor (azure.json is written last). */
export function simAzureStateExists(dir: string): boolean {
  return existsSync(join(dir, SIM_AZURE_RECORD_FILE));
}

export interface InitSimAzureOptions {
  /** The platform in `dir`, when the caller has it loaded (default: loaded from `dir`). */
  platform?: SimPlatform;
  /** The vTPM attestation key (an RSA private key; default a new RSA-2048 key). */
  attestationKey?: KeyObject;
  vmUniqueId?: string;
}

/** A new RSA-2048 attestation key (what `sim init --platform azure` generates before writing anything). */
export function newSimAttestationKey(): KeyObject {
  return newKeyPair({ type: "rsa", modulusLength: 2048 }).privateKey;
}

/**
 * Add a simulated Azure paravisor to the simulated platform in `dir`: the AK and the record are written under the
 * state lock, each atomically, the record last. Refuses a state that already has one (SIM_STATE_EXISTS).
 */
export async function initSimAzureParavisor(
  dir: string,
  opts: InitSimAzureOptions = {},
): Promise<SimAzureParavisor> {
  const platform = opts.platform ?? (await loadSimPlatform(dir));
  const ak = opts.attestationKey ?? newSimAttestationKey();
  const record: AzureRecord = {
    format: FORMAT,
    vmUniqueId: opts.vmUniqueId ?? randomUUID().toUpperCase(),
    ek: newRsaPublicJwk(),
  };
  // Built before anything is written: a bad key fails here (SIM_VTPM_KEY) and leaves the state as it was.
  const pv = await SimAzureParavisor.create({
    platform,
    vtpm: { attestationKey: ak },
    vmUniqueId: record.vmUniqueId,
    ek: record.ek,
  });
  withStateLock(dir, () => {
    if (simAzureStateExists(dir)) {
      throw new TdxError("SIM_STATE_EXISTS", `${dir} already holds a simulated Azure paravisor`, {
        field: "state",
        hint: "use it as is, or pick an empty directory for a new simulated Azure TD",
      });
    }
    writeAtomic(join(dir, SIM_AZURE_AK_FILE), ak.export({ format: "pem", type: "pkcs8" }).toString(), 0o600);
    writeAtomic(join(dir, SIM_AZURE_RECORD_FILE), `${JSON.stringify(record, null, 2)}\n`);
  });
  return pv;
}

function invalid(path: string, why: string, cause?: unknown): TdxError {
  return new TdxError("SIM_STATE_INVALID", `${path} ${why}`, {
    field: path,
    ...(cause !== undefined ? { cause } : {}),
    hint: "the simulated Azure state is damaged; re-create the state directory with `tdx-attest sim init --platform azure`",
  });
}

function readStateFile(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw invalid(path, "cannot be read", e);
  }
}

/** Load the simulated Azure TD persisted in `dir` (its platform, AK and identity; a freshly booted vTPM). */
export async function loadSimAzureParavisor(
  dir: string,
  opts: Pick<SimAzureParavisorOptions, "measureBoot" | "editVarData"> & {
    vtpm?: Omit<NonNullable<SimAzureParavisorOptions["vtpm"]>, "attestationKey">;
  } = {},
): Promise<SimAzureParavisor> {
  const recordPath = join(dir, SIM_AZURE_RECORD_FILE);
  if (!simAzureStateExists(dir)) {
    throw new TdxError("SIM_STATE_MISSING", `no simulated Azure paravisor in ${dir}`, {
      field: "state",
      hint: `create a simulated Azure TD with \`tdx-attest sim init --sim-state DIR --platform azure\``,
    });
  }
  let record: Partial<AzureRecord>;
  try {
    record = JSON.parse(readStateFile(recordPath)) as Partial<AzureRecord>;
  } catch (e) {
    if (e instanceof TdxError) throw e;
    throw invalid(recordPath, "is not valid JSON", e);
  }
  if (
    record === null ||
    typeof record !== "object" ||
    record.format !== FORMAT ||
    typeof record.vmUniqueId !== "string" ||
    typeof record.ek?.n !== "string" ||
    typeof record.ek?.e !== "string"
  ) {
    throw invalid(recordPath, `is not a ${FORMAT} record`);
  }
  const akPath = join(dir, SIM_AZURE_AK_FILE);
  let ak: KeyObject;
  try {
    ak = createPrivateKey(readStateFile(akPath));
  } catch (e) {
    if (e instanceof TdxError) throw e;
    throw invalid(akPath, "is not a private key", e);
  }
  if (ak.asymmetricKeyType !== "rsa") throw invalid(akPath, "is not an RSA key (Azure's AK is RSA-2048)");
  return SimAzureParavisor.create({
    ...opts,
    platform: await loadSimPlatform(dir),
    vtpm: { ...(opts.vtpm ?? {}), attestationKey: ak },
    vmUniqueId: record.vmUniqueId,
    ek: { kty: "RSA", n: record.ek.n, e: record.ek.e },
  });
}
