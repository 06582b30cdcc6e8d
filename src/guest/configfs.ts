/**
 * Quotes through configfs-tsm (guest-abi §2): a fresh instance directory per request, 64 bytes written to
 * inblob in one write and delivered by close(), the quote read from outblob through a fresh descriptor to end
 * of file, and the generation counter compared around it to catch another writer.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { TdxError } from "../errors.js";
import { checkReportData, guestSyscallError } from "./errors.js";
import { type GuestFs, readWhole, writeOnceAndClose } from "./fs.js";

export const TSM_PROVIDER_TDX = "tdx_guest";

export interface ConfigfsQuoteOptions {
  fs: GuestFs;
  /** The configfs-tsm report directory (/sys/kernel/config/tsm/report). */
  root: string;
  /** Attempts when the generation counter shows a race (default 3). */
  retries?: number;
  /** How often to re-read generation while waiting for the inblob commit (default 100). */
  commitPolls?: number;
}

async function readText(fs: GuestFs, path: string, op: "configfs-read"): Promise<string> {
  try {
    return new TextDecoder().decode(await readWhole(fs, path));
  } catch (e) {
    throw guestSyscallError(op, e, path);
  }
}

async function readGeneration(fs: GuestFs, dir: string): Promise<bigint> {
  const path = join(dir, "generation");
  const text = (await readText(fs, path, "configfs-read")).trim();
  if (!/^\d+$/.test(text))
    throw new TdxError("GUEST_CONFIGFS_UNEXPECTED", `generation reads "${text}", not a number`, {
      field: "generation",
      hint: "this is not a configfs-tsm report instance",
      data: { path },
    });
  return BigInt(text);
}

/** The provider name of a configfs-tsm instance ("tdx_guest" in a TD). */
export async function configfsProviderOf(fs: GuestFs, dir: string): Promise<string> {
  return (await readText(fs, join(dir, "provider"), "configfs-read")).trim();
}

/** Create a uniquely named instance directory; ENXIO here means no TSM provider is registered. */
export async function createInstance(fs: GuestFs, root: string): Promise<string> {
  const dir = join(root, `tdx-attest-${process.pid}-${randomBytes(6).toString("hex")}`);
  try {
    await fs.mkdir(dir);
  } catch (e) {
    throw guestSyscallError("configfs-mkdir", e, dir);
  }
  return dir;
}

export async function removeInstance(fs: GuestFs, dir: string): Promise<void> {
  try {
    await fs.rmdir(dir);
  } catch {
    // The quote is already in hand; a leftover instance only costs a little kernel memory.
  }
}

/** Get a TD quote for 64 bytes of REPORTDATA through configfs-tsm. */
export async function configfsGetQuote(
  reportData: Uint8Array,
  opts: ConfigfsQuoteOptions,
): Promise<Uint8Array> {
  checkReportData(reportData);
  const { fs } = opts;
  const retries = opts.retries ?? 3;
  const commitPolls = opts.commitPolls ?? 100;
  const dir = await createInstance(fs, opts.root);
  try {
    const provider = await configfsProviderOf(fs, dir);
    if (provider !== TSM_PROVIDER_TDX)
      throw new TdxError(
        "GUEST_WRONG_TSM_PROVIDER",
        `configfs-tsm provider is "${provider}", not ${TSM_PROVIDER_TDX}`,
        {
          field: "provider",
          hint: "this confidential VM is not a TDX TD (e.g. SEV-SNP); use that platform's tooling",
          data: { provider },
        },
      );
    let lastRace = "";
    for (let attempt = 1; attempt <= retries; attempt++) {
      const g1 = await readGeneration(fs, dir);
      const inblob = join(dir, "inblob");
      let written: number;
      try {
        written = await writeOnceAndClose(fs, inblob, reportData);
      } catch (e) {
        throw guestSyscallError("configfs-write", e, inblob);
      }
      if (written !== 64)
        throw new TdxError("GUEST_CONFIGFS_SHORT_WRITE", `inblob accepted ${written} of 64 bytes`, {
          field: "inblob",
          hint: "retry; configfs takes the whole REPORTDATA in one write",
        });
      // The write is delivered on close(); generation moves once the driver has it.
      let g2 = await readGeneration(fs, dir);
      for (let i = 0; g2 === g1 && i < commitPolls; i++) {
        await new Promise((r) => setImmediate(r));
        g2 = await readGeneration(fs, dir);
      }
      if (g2 !== g1 + 1n) {
        lastRace = `generation went ${g1} → ${g2} around our inblob write`;
        continue;
      }
      const outblob = join(dir, "outblob");
      let quote: Uint8Array;
      try {
        quote = await readWhole(fs, outblob);
      } catch (e) {
        throw guestSyscallError("configfs-read", e, outblob);
      }
      const g3 = await readGeneration(fs, dir);
      if (g3 !== g2) {
        lastRace = `generation went ${g2} → ${g3} while reading outblob`;
        continue;
      }
      if (quote.length === 0)
        throw new TdxError("GUEST_QUOTE_EMPTY", "configfs-tsm returned an empty quote", {
          field: "outblob",
          hint: "the host's quote generation failed (kernels before 7.0 report it as an empty outblob): check QEMU's quote-generation-socket and the QGS on the host",
        });
      return quote;
    }
    throw new TdxError(
      "GUEST_CONFIGFS_RACE",
      `another writer kept changing the report instance (${lastRace})`,
      {
        hint: "something else writes to our configfs-tsm instance; retry, and make sure no other tool shares it",
        data: { attempts: retries },
      },
    );
  } finally {
    await removeInstance(fs, dir);
  }
}
