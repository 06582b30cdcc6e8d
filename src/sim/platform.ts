import { createHash, randomBytes, X509Certificate } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { writeCollateral } from "../collateral/json.js";
import type { Collateral } from "../collateral/types.js";
import { TdxError } from "../errors.js";
import { pcsBody, qeIdentityText, signText, tcbInfoText } from "./collateral.js";
import {
  generateSimKey,
  type IssuedCert,
  issueCrl,
  issuePckCert,
  issuePki,
  type PkiCerts,
  randomSerial as randomSerialBytes,
  type SimKey,
  simKeyFromPkcs8,
  wholeSeconds,
} from "./pki.js";
import { type QuoteOptions, SimQuotingEnclave } from "./quoting-enclave.js";
import {
  checkScenarioName,
  collateralSpecFor,
  expectationFor,
  FMSPC,
  PCE_ID,
  type PlatformTcb,
  platformTcbFor,
  type ScenarioExpectation,
  type ScenarioName,
} from "./scenarios.js";
import { withStateLock } from "./state-lock.js";
import {
  measureMrTd,
  PAGE_SIZE,
  rtmrExtend,
  type TdImage,
  type TdState,
  type TdxModuleIdentity,
  tdgMrReport,
  tdxModuleIdentity,
} from "./tdx-module.js";

/** JSON description of a simulated TD (what `sim init` writes to DIR/td.json). */
export interface TdDescription {
  name: string;
  /** TD ATTRIBUTES as a u64 in hex, e.g. "0x0000000010000000" (SEPT_VE_DISABLE). */
  attributes: string;
  /** XFAM as a u64 in hex. */
  xfam: string;
  /** 48 bytes hex each; zero when absent. */
  mrConfigId?: string;
  mrOwner?: string;
  mrOwnerConfig?: string;
  order?: "single-pass" | "two-pass";
  sections: Array<{
    name?: string;
    /** Guest-physical address in hex ("0xffffc000"). */
    gpa: string;
    pages: number;
    mrExtend: boolean;
    pageAug?: boolean;
    /** Initial content as hex (zero-padded), or ... */
    content?: string;
    /** ... deterministic content: SHA-384(seed || u32le counter) blocks. */
    contentSeed?: string;
  }>;
  /** Current RTMR values (hex); zero at TD launch. */
  rtmr?: string[];
}

/** A small TDVF-like image: a measured firmware volume, a measured config volume, an unmeasured TD HOB. */
export function defaultTdDescription(): TdDescription {
  return {
    name: "sim-td",
    attributes: "0x0000000010000000",
    xfam: "0x00000000000642e7",
    order: "single-pass",
    sections: [
      {
        name: "BFV",
        gpa: "0xfffc0000",
        pages: 4,
        mrExtend: true,
        contentSeed: "tdx-attest simulated TDVF BFV",
      },
      {
        name: "CFV",
        gpa: "0xfffbf000",
        pages: 1,
        mrExtend: true,
        contentSeed: "tdx-attest simulated TDVF CFV",
      },
      { name: "TD_HOB", gpa: "0x00809000", pages: 1, mrExtend: false },
      { name: "TEMP_MEM", gpa: "0x0080a000", pages: 2, mrExtend: false, pageAug: true },
    ],
  };
}

function tdError(field: string, message: string): TdxError {
  return new TdxError("SIM_TD_DESCRIPTION_INVALID", message, {
    field,
    hint: 'fix the TD description (see docs/sim.md, "TD description")',
  });
}

function parseU64(s: string, field: string): bigint {
  if (typeof s !== "string" || !/^(0x)?[0-9a-fA-F]{1,16}$/.test(s))
    throw tdError(field, `${field} is not a u64 in hex`);
  return BigInt(s.startsWith("0x") ? s : `0x${s}`);
}

function parseHex(s: string | undefined, size: number | null, field: string): Uint8Array {
  if (s === undefined) return new Uint8Array(size ?? 0);
  if (typeof s !== "string" || s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) {
    throw tdError(field, `${field} is not hex`);
  }
  const b = Uint8Array.from(Buffer.from(s, "hex"));
  if (size !== null && b.length !== size)
    throw tdError(field, `${field} must be ${size} bytes, got ${b.length}`);
  return b;
}

function seededContent(seed: string, size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let off = 0, ctr = 0; off < size; off += 48, ctr++) {
    const c = Buffer.alloc(4);
    c.writeUInt32LE(ctr);
    const d = createHash("sha384").update(seed, "utf8").update(c).digest();
    out.set(d.subarray(0, Math.min(48, size - off)), off);
  }
  return out;
}

/** The measured TD image of a description. */
export function tdImageOf(d: TdDescription): TdImage {
  if (!d || !Array.isArray(d.sections)) throw tdError("sections", "the TD description has no sections array");
  return {
    order: d.order ?? "single-pass",
    sections: d.sections.map((s, i) => {
      const f = `sections[${i}]`;
      if (!Number.isInteger(s.pages) || s.pages <= 0)
        throw tdError(`${f}.pages`, `${f}.pages must be a positive integer`);
      const content =
        s.content !== undefined
          ? parseHex(s.content, null, `${f}.content`)
          : s.contentSeed !== undefined
            ? seededContent(s.contentSeed, s.pages * PAGE_SIZE)
            : undefined;
      return {
        ...(s.name !== undefined ? { name: s.name } : {}),
        gpa: parseU64(s.gpa, `${f}.gpa`),
        pages: s.pages,
        mrExtend: s.mrExtend === true,
        pageAug: s.pageAug === true,
        ...(content ? { content } : {}),
      };
    }),
  };
}

function rtmrsOf(hex: string[] | undefined): TdState["rtmr"] {
  const rtmr = (hex ?? []).map((h, i) => parseHex(h, 48, `rtmr[${i}]`));
  while (rtmr.length < 4) rtmr.push(new Uint8Array(48));
  return [rtmr[0]!, rtmr[1]!, rtmr[2]!, rtmr[3]!];
}

function tdStateOf(d: TdDescription): TdState {
  return {
    attributes: parseU64(d.attributes, "attributes"),
    xfam: parseU64(d.xfam, "xfam"),
    mrTd: measureMrTd(tdImageOf(d)),
    mrConfigId: parseHex(d.mrConfigId, 48, "mrConfigId"),
    mrOwner: parseHex(d.mrOwner, 48, "mrOwner"),
    mrOwnerConfig: parseHex(d.mrOwnerConfig, 48, "mrOwnerConfig"),
    rtmr: rtmrsOf(d.rtmr),
    servTdHash: new Uint8Array(48),
  };
}

export interface SimPlatformOptions {
  scenario?: ScenarioName | string;
  /** TDX module generation: "1.5" (default; TEE_TCB_SVN[1] = 1) or "1.0". */
  tdxModule?: "1.0" | "1.5";
  /** Which CA issues the PCK certificate: "platform" (default, as on every TDX server seen) or "processor". */
  pckCa?: "platform" | "processor";
  td?: TdDescription;
  /** Issue time (notBefore) of the certificates (default: an hour ago). */
  now?: Date;
}

/** Persisted identity of a simulated platform (DIR/platform.json). */
interface PlatformRecord {
  format: "tdx-attest-sim/1";
  scenario: ScenarioName;
  tdxModule: "1.0" | "1.5";
  pckCa: "platform" | "processor";
  createdAt: string;
  qeId: string;
  ppid: string;
  platformInstanceId: string;
}

interface PlatformKeys {
  root: SimKey;
  platformCa: SimKey;
  processorCa: SimKey;
  tcbSigning: SimKey;
  pck: SimKey;
  attestation: SimKey;
  /** The report MAC key shared by the simulated CPU and QE. */
  macKey: Uint8Array;
}

/** Everything a PCS serves for this platform, signed for one point in time. */
export interface SimCollateralBundle {
  collateral: Collateral;
  /** Body of `GET /tdx/certification/v4/tcb?fmspc=…`. */
  tcbInfoResponse: string;
  /** Body of `GET /tdx/certification/v4/qe/identity`. */
  qeIdentityResponse: string;
  pckCrl: { platform: Uint8Array; processor: Uint8Array };
  pckCrlIssuerChain: { platform: string; processor: string };
  rootCaCrl: Uint8Array;
  tcbInfoIssuerChain: string;
  qeIdentityIssuerChain: string;
  fmspc: string;
  issueDate: Date;
  nextUpdate: Date;
}

const DAY_MS = 24 * 3600 * 1000;

const KEY_FILES = {
  root: "root-ca.key",
  platformCa: "platform-ca.key",
  processorCa: "processor-ca.key",
  tcbSigning: "tcb-signing.key",
  pck: "pck.key",
  attestation: "attestation.key",
} as const;

const CERT_FILES = {
  root: "root-ca.pem",
  platformCa: "platform-ca.pem",
  processorCa: "processor-ca.pem",
  tcbSigning: "tcb-signing.pem",
  pck: "pck.pem",
} as const;

/** A simulated TDX host: CPU + TDX module, one TD, the Quoting Enclave and Intel's PKI/collateral. */
export class SimPlatform {
  readonly tcb: PlatformTcb;
  readonly module: TdxModuleIdentity;
  readonly cpuSvn: Uint8Array;
  readonly qe: SimQuotingEnclave;
  private td: TdState;
  private tdDescription: TdDescription;

  private constructor(
    private readonly record: PlatformRecord,
    private readonly keys: PlatformKeys,
    readonly certs: PkiCerts & { pck: IssuedCert },
    td: TdDescription,
    /** State directory, or null for an in-memory platform. */
    readonly stateDir: string | null,
  ) {
    this.tcb = platformTcbFor(record.scenario);
    this.cpuSvn = Uint8Array.from(this.tcb.sgxTcbComponents);
    this.module = tdxModuleIdentity(record.tdxModule, {
      moduleSvn: this.tcb.tdxModuleSvn,
      microcodeSvn: this.tcb.tdxMicrocodeSvn,
      ...(this.tcb.tdLaunchModuleSvn !== undefined ? { launchModuleSvn: this.tcb.tdLaunchModuleSvn } : {}),
    });
    this.tdDescription = td;
    this.td = tdStateOf(td);
    this.qe = new SimQuotingEnclave({
      attestationKey: keys.attestation,
      pckKey: keys.pck,
      pckChain: [certs.pck.pem, this.pckCaCert().pem, certs.root.pem],
      qeId: Uint8Array.from(Buffer.from(record.qeId, "hex")),
      cpuSvn: this.cpuSvn,
      isvSvn: this.tcb.qeIsvSvn,
      macKey: keys.macKey,
    });
  }

  get scenario(): ScenarioName {
    return this.record.scenario;
  }
  get tdxModuleVersion(): "1.0" | "1.5" {
    return this.record.tdxModule;
  }
  get pckCa(): "platform" | "processor" {
    return this.record.pckCa;
  }
  /** The verdict Intel's QVL reaches for this platform's quotes with its current collateral. */
  get expectation(): ScenarioExpectation {
    return expectationFor(this.record.scenario);
  }
  /** The QE ID (16 bytes): the head of a quote's user data, and the platform id a QGS reports. */
  get qeId(): Uint8Array {
    return Uint8Array.from(Buffer.from(this.record.qeId, "hex"));
  }
  /** PEM of the simulated root CA: the trust anchor a verifier must be given. */
  get rootCaPem(): string {
    return this.certs.root.pem;
  }
  /** PEM chain PCK || PCK CA || root, as the quote carries it. */
  get pckCertChainPem(): string {
    return [this.certs.pck.pem, this.pckCaCert().pem, this.certs.root.pem].join("");
  }
  /** The TD's current measurements (MRTD, RTMRs, ...). */
  get tdState(): Readonly<TdState> {
    return this.td;
  }
  get tdDescriptionJson(): TdDescription {
    return structuredClone(this.tdDescription);
  }

  private pckCaCert(): IssuedCert {
    return this.record.pckCa === "platform" ? this.certs.platformCa : this.certs.processorCa;
  }

  /** TDG.MR.REPORT with 64 bytes of REPORTDATA: the 1024-byte TDREPORT. */
  report(reportData: Uint8Array): Uint8Array {
    return tdgMrReport({
      module: this.module,
      td: this.td,
      cpuSvn: this.cpuSvn,
      macKey: this.keys.macKey,
      reportData,
    });
  }

  /** TDG.MR.RTMR.EXTEND of RTMR[index] with a 48-byte digest; persisted when the platform has a state dir. */
  extendRtmr(index: number, digest: Uint8Array): Uint8Array {
    if (!Number.isInteger(index) || index < 0 || index > 3) {
      throw new TdxError("SIM_RTMR_INDEX", `RTMR index ${index} is out of range`, {
        field: "index",
        hint: "RTMRs are numbered 0..3",
      });
    }
    const dir = this.stateDir;
    if (!dir) return this.applyExtend(index, digest);
    // Read-modify-write under the state lock, from the registers as persisted now: another process may
    // have extended since this platform was loaded, and extending stale registers would drop its update.
    return withStateLock(dir, () => {
      this.td.rtmr = rtmrsOf(readJson<TdDescription>(join(dir, "td.json")).rtmr);
      const next = this.applyExtend(index, digest);
      writeAtomic(join(dir, "td.json"), `${JSON.stringify(this.tdDescription, null, 2)}\n`);
      return next;
    });
  }

  private applyExtend(index: number, digest: Uint8Array): Uint8Array {
    const next = rtmrExtend(this.td.rtmr[index]!, digest);
    this.td.rtmr[index] = next;
    this.tdDescription.rtmr = this.td.rtmr.map((r) => Buffer.from(r).toString("hex"));
    return next;
  }

  /** The Quoting Enclave's service: a quote for a TDREPORT taken on this platform. */
  quoteFromTdReport(tdReport: Uint8Array, opts: QuoteOptions = {}): Uint8Array {
    return this.qe.quoteFromTdReport(tdReport, opts);
  }

  /** Report + quote in one step. */
  quote(reportData: Uint8Array, opts: QuoteOptions = {}): Uint8Array {
    return this.quoteFromTdReport(this.report(reportData), opts);
  }

  /** Collateral and PCS responses, valid at `now` (or expired at `now` in the expired-collateral scenario). */
  async collateralBundle(opts: { now?: Date } = {}): Promise<SimCollateralBundle> {
    const now = opts.now ?? new Date();
    const spec = collateralSpecFor(this.record.scenario);
    let issueDate: Date;
    let nextUpdate: Date;
    let rootCrlNext: Date;
    if (spec.expiredBy > 0) {
      nextUpdate = wholeSeconds(new Date(now.getTime() - spec.expiredBy));
      issueDate = new Date(nextUpdate.getTime() - 30 * DAY_MS);
      rootCrlNext = nextUpdate;
    } else {
      // Issued an hour ago, like data a PCS published earlier; valid 30 days (root CRL: a year).
      issueDate = wholeSeconds(new Date(now.getTime() - 3600 * 1000));
      nextUpdate = new Date(issueDate.getTime() + 30 * DAY_MS);
      rootCrlNext = new Date(issueDate.getTime() + 365 * DAY_MS);
    }
    const c = this.certs;
    const rootCaCrl = await issueCrl({
      issuer: c.root,
      issuerKey: this.keys.root,
      thisUpdate: issueDate,
      nextUpdate: rootCrlNext,
      revokedSerials: [],
    });
    // Like Intel's PCK CRLs, never empty: other platforms' PCK certificates were revoked too.
    const others = [randomSerialBytes(), randomSerialBytes()];
    const revoked = spec.revokePck ? [...others, c.pck.serial] : others;
    const platformCrl = await issueCrl({
      issuer: c.platformCa,
      issuerKey: this.keys.platformCa,
      thisUpdate: issueDate,
      nextUpdate,
      revokedSerials: this.record.pckCa === "platform" ? revoked : others,
    });
    const processorCrl = await issueCrl({
      issuer: c.processorCa,
      issuerKey: this.keys.processorCa,
      thisUpdate: issueDate,
      nextUpdate,
      revokedSerials: this.record.pckCa === "processor" ? revoked : others,
    });
    const tcbInfo = tcbInfoText(spec, issueDate, nextUpdate);
    const tcbInfoSignature = signText(tcbInfo, this.keys.tcbSigning);
    const qeIdentity = qeIdentityText(spec, issueDate, nextUpdate);
    const qeIdentitySignature = signText(qeIdentity, this.keys.tcbSigning);
    const signingChain = c.tcbSigning.pem + c.root.pem;
    const pckCrlIssuerChain = {
      platform: c.platformCa.pem + c.root.pem,
      processor: c.processorCa.pem + c.root.pem,
    };
    const collateral: Collateral = {
      pckCrlIssuerChain: pckCrlIssuerChain[this.record.pckCa],
      rootCaCrl,
      pckCrl: this.record.pckCa === "platform" ? platformCrl : processorCrl,
      tcbInfoIssuerChain: signingChain,
      tcbInfo,
      tcbInfoSignature,
      qeIdentityIssuerChain: signingChain,
      qeIdentity,
      qeIdentitySignature,
    };
    return {
      collateral,
      tcbInfoResponse: pcsBody("tcbInfo", tcbInfo, tcbInfoSignature),
      qeIdentityResponse: pcsBody("enclaveIdentity", qeIdentity, qeIdentitySignature),
      pckCrl: { platform: platformCrl, processor: processorCrl },
      pckCrlIssuerChain,
      rootCaCrl,
      tcbInfoIssuerChain: signingChain,
      qeIdentityIssuerChain: signingChain,
      fmspc: FMSPC,
      issueDate,
      nextUpdate,
    };
  }

  /** The collateral for this platform's quotes (the `Collateral` object verifiers take). */
  async collateral(opts: { now?: Date } = {}): Promise<Collateral> {
    return (await this.collateralBundle(opts)).collateral;
  }

  /** The collateral as JSON text (the format of ../shared/vectors/cases/<name>/collateral.json). */
  async collateralJson(opts: { now?: Date } = {}): Promise<string> {
    return writeCollateral(await this.collateral(opts));
  }

  /** Build a platform from fresh keys (shared by createSimPlatform and initSimPlatform). */
  static async create(opts: SimPlatformOptions, stateDir: string | null): Promise<SimPlatform> {
    const scenario = checkScenarioName(opts.scenario ?? "up-to-date");
    const tdxModule = opts.tdxModule ?? "1.5";
    if (tdxModule !== "1.0" && tdxModule !== "1.5") {
      throw new TdxError(
        "SIM_TDX_MODULE_VERSION",
        `TDX module version "${String(tdxModule)}" is not simulated`,
        {
          field: "tdxModule",
          hint: 'use "1.0" or "1.5"',
        },
      );
    }
    const needsTdx15 =
      scenario === "tdx-module-out-of-date" || platformTcbFor(scenario).tdLaunchModuleSvn !== undefined;
    if (needsTdx15 && tdxModule !== "1.5") {
      throw new TdxError(
        "SIM_SCENARIO_NEEDS_TDX15",
        `the ${scenario} scenario needs a TDX 1.5 module (TEE_TCB_SVN[1] > 0, TEE_TCB_SVN2)`,
        { field: "tdxModule", hint: "drop the TDX 1.0 option or pick another scenario" },
      );
    }
    const pckCa = opts.pckCa ?? "platform";
    if (pckCa !== "platform" && pckCa !== "processor") {
      throw new TdxError("SIM_PCK_CA", `unknown PCK CA "${String(pckCa)}"`, {
        field: "pckCa",
        hint: 'use "platform" or "processor"',
      });
    }
    const td = opts.td ?? defaultTdDescription();
    tdStateOf(td); // validate before issuing anything
    // Certificates are issued at `now`; by default an hour back, so that a verifier whose clock (or whose
    // `now`, taken just before creating the platform) is slightly behind still sees them as valid.
    const at = wholeSeconds(opts.now ?? new Date(Date.now() - 3600 * 1000));
    const keys: PlatformKeys = {
      root: generateSimKey(),
      platformCa: generateSimKey(),
      processorCa: generateSimKey(),
      tcbSigning: generateSimKey(),
      pck: generateSimKey(),
      attestation: generateSimKey(),
      macKey: new Uint8Array(randomBytes(32)),
    };
    const record: PlatformRecord = {
      format: "tdx-attest-sim/1",
      scenario,
      tdxModule,
      pckCa,
      createdAt: at.toISOString(),
      qeId: randomBytes(16).toString("hex"),
      ppid: randomBytes(16).toString("hex"),
      platformInstanceId: randomBytes(16).toString("hex"),
    };
    const pki = await issuePki(keys, at);
    const tcb = platformTcbFor(scenario);
    const pck = await issuePckCert({
      key: keys.pck,
      ca: pckCa,
      caCert: pckCa === "platform" ? pki.platformCa : pki.processorCa,
      caKey: pckCa === "platform" ? keys.platformCa : keys.processorCa,
      at,
      values: {
        ppid: Uint8Array.from(Buffer.from(record.ppid, "hex")),
        sgxTcbComponents: tcb.sgxTcbComponents,
        pceSvn: tcb.pceSvn,
        cpuSvn: Uint8Array.from(tcb.sgxTcbComponents),
        pceId: Uint8Array.from(Buffer.from(PCE_ID, "hex")),
        fmspc: Uint8Array.from(Buffer.from(FMSPC, "hex")),
        ...(pckCa === "platform"
          ? {
              sgxType: 1,
              platformInstanceId: Uint8Array.from(Buffer.from(record.platformInstanceId, "hex")),
              configuration: { dynamicPlatform: true, cachedKeys: true, smtEnabled: true },
            }
          : { sgxType: 0 }),
      },
    });
    const platform = new SimPlatform(record, keys, { ...pki, pck }, structuredClone(td), stateDir);
    if (stateDir) platform.save();
    return platform;
  }

  /** Persist a new platform; under the state lock, so that two concurrent inits cannot mix their files. */
  private save(): void {
    const dir = this.stateDir;
    if (!dir) return;
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw new TdxError("SIM_STATE_UNWRITABLE", `cannot create ${dir}`, {
        field: "state",
        cause: e,
        hint: "pick a state directory in a writable location",
      });
    }
    withStateLock(dir, () => {
      if (existsSync(join(dir, "platform.json"))) throw stateExists(dir);
      this.writeFiles(dir);
    });
  }

  private writeFiles(dir: string): void {
    for (const [name, file] of Object.entries(KEY_FILES)) {
      const key = this.keys[name as keyof typeof KEY_FILES];
      writeAtomic(join(dir, file), pkcs8Pem(key.pkcs8), 0o600);
    }
    writeAtomic(join(dir, "platform-secret.bin"), this.keys.macKey, 0o600);
    for (const [name, file] of Object.entries(CERT_FILES)) {
      writeAtomic(join(dir, file), this.certs[name as keyof typeof CERT_FILES].pem);
    }
    writeAtomic(join(dir, "td.json"), `${JSON.stringify(this.tdDescription, null, 2)}\n`);
    // platform.json last: its presence marks a complete state directory.
    writeAtomic(join(dir, "platform.json"), `${JSON.stringify(this.record, null, 2)}\n`);
  }

  static load(dir: string): SimPlatform {
    const recordPath = join(dir, "platform.json");
    if (!existsSync(recordPath)) {
      throw new TdxError("SIM_STATE_MISSING", `no simulated platform in ${dir}`, {
        field: "state",
        hint: `create one with \`tdx-attest sim init --sim-state ${dir}\``,
      });
    }
    const record = readJson<PlatformRecord>(recordPath);
    if (record.format !== "tdx-attest-sim/1") {
      throw new TdxError("SIM_STATE_INVALID", `${recordPath} is not a tdx-attest simulated platform record`, {
        field: "platform.json",
        hint: "re-create the state directory with `tdx-attest sim init`",
      });
    }
    checkScenarioName(record.scenario);
    const key = (name: keyof typeof KEY_FILES) =>
      simKeyFromPkcs8(pemToDer(readState(join(dir, KEY_FILES[name])).toString("utf8")), KEY_FILES[name]);
    const keys: PlatformKeys = {
      root: key("root"),
      platformCa: key("platformCa"),
      processorCa: key("processorCa"),
      tcbSigning: key("tcbSigning"),
      pck: key("pck"),
      attestation: key("attestation"),
      macKey: new Uint8Array(readState(join(dir, "platform-secret.bin"))),
    };
    const cert = (name: keyof typeof CERT_FILES, cn: string): IssuedCert => {
      const pem = readState(join(dir, CERT_FILES[name])).toString("utf8");
      return certFromPem(pem, cn, join(dir, CERT_FILES[name]));
    };
    const certs = {
      root: cert("root", "Intel SGX Root CA"),
      platformCa: cert("platformCa", "Intel SGX PCK Platform CA"),
      processorCa: cert("processorCa", "Intel SGX PCK Processor CA"),
      tcbSigning: cert("tcbSigning", "Intel SGX TCB Signing"),
      pck: cert("pck", "Intel SGX PCK Certificate"),
    };
    const td = readJson<TdDescription>(join(dir, "td.json"));
    return new SimPlatform(record, keys, certs, td, dir);
  }
}

function pkcs8Pem(der: Uint8Array): string {
  const b64 = Buffer.from(der).toString("base64");
  return `-----BEGIN PRIVATE KEY-----\n${b64.replace(/.{1,64}/g, "$&\n")}-----END PRIVATE KEY-----\n`;
}

function pemToDer(pem: string): Uint8Array {
  const m = /-----BEGIN [A-Z ]+-----([\s\S]*?)-----END [A-Z ]+-----/.exec(pem);
  return new Uint8Array(Buffer.from((m?.[1] ?? "").replace(/\s+/g, ""), "base64"));
}

function certFromPem(pem: string, cn: string, path: string): IssuedCert {
  try {
    const c = new X509Certificate(pem);
    const serial = stripLeadingZero(Uint8Array.from(Buffer.from(c.serialNumber, "hex")));
    const der = new Uint8Array(c.raw);
    return { pem, der, serial, keyId: subjectKeyId(der, path), cn };
  } catch (e) {
    if (e instanceof TdxError) throw e;
    throw new TdxError("SIM_STATE_INVALID", `${path} is not a certificate`, {
      field: path,
      cause: e,
      hint: "re-create the state directory with `tdx-attest sim init`",
    });
  }
}

function stripLeadingZero(b: Uint8Array): Uint8Array {
  return b.length > 1 && b[0] === 0 ? b.subarray(1) : b;
}

/** The SKI extension value of a DER certificate (OID 2.5.29.14 -> OCTET STRING { OCTET STRING keyId }). */
function subjectKeyId(der: Uint8Array, path: string): Uint8Array {
  const pattern = Buffer.from([0x06, 0x03, 0x55, 0x1d, 0x0e, 0x04]);
  const buf = Buffer.from(der);
  const at = buf.indexOf(pattern);
  if (at < 0)
    throw new TdxError("SIM_STATE_INVALID", `${path} has no subject key identifier`, {
      field: path,
      hint: "the simulated platform's certificates carry one; re-create the state directory with `tdx-attest sim init`",
    });
  // 06 03 55 1d 0e | 04 L | 04 n keyId
  const inner = at + pattern.length + 1;
  const n = buf[inner + 1]!;
  return new Uint8Array(buf.subarray(inner + 2, inner + 2 + n));
}

function readState(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new TdxError("SIM_STATE_INVALID", `cannot read ${path}`, {
      field: path,
      cause: e,
      hint: "the state directory is incomplete; re-create it with `tdx-attest sim init`",
    });
  }
}

function readJson<T>(path: string): T {
  const text = readState(path).toString("utf8");
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new TdxError("SIM_STATE_INVALID", `${path} is not valid JSON`, {
      field: path,
      cause: e,
      hint: "the state directory is damaged; re-create it with `tdx-attest sim init`",
    });
  }
}

/** Write via a temporary file and rename, so readers never see a half-written file. */
export function writeAtomic(path: string, data: string | Uint8Array, mode = 0o644): void {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    writeFileSync(tmp, data, { mode });
    chmodSync(tmp, mode);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new TdxError("SIM_STATE_UNWRITABLE", `cannot write ${path}`, {
      field: "state",
      cause: e,
      hint: "check that the state directory is writable",
    });
  }
}

function stateExists(dir: string): TdxError {
  return new TdxError("SIM_STATE_EXISTS", `${dir} already holds a simulated platform`, {
    field: "state",
    hint: "use it as is, or pick an empty directory (or remove this one) to create a new platform",
  });
}

/** An in-memory platform for library use (nothing is written to disk). */
export function createSimPlatform(opts: SimPlatformOptions = {}): Promise<SimPlatform> {
  return SimPlatform.create(opts, null);
}

/** Create a platform and persist it in `dir` (keys as PKCS#8 PEM with mode 0600, certificates, the TD). */
export function initSimPlatform(dir: string, opts: SimPlatformOptions = {}): Promise<SimPlatform> {
  if (existsSync(join(dir, "platform.json"))) {
    return Promise.reject(stateExists(dir));
  }
  return SimPlatform.create(opts, dir);
}

/** Load the platform persisted in `dir` by initSimPlatform / `tdx-attest sim init`. */
export async function loadSimPlatform(dir: string): Promise<SimPlatform> {
  return SimPlatform.load(dir);
}
