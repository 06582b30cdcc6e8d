/**
 * Measurement registers through tsm-mr sysfs (kernel 6.16+, guest-abi §3): 48-byte binary reads of MRTD,
 * MRCONFIGID, MROWNER, MROWNERCONFIG and RTMR0-3; an RTMR extend is one 48-byte write at offset 0.
 */
import { join } from "node:path";
import { TdxError } from "../errors.js";
import { checkRtmrArgs, guestSyscallError } from "./errors.js";
import { type GuestFs, readWhole, writeOnceAndClose } from "./fs.js";

export interface Measurements {
  mrTd: Uint8Array;
  mrConfigId: Uint8Array;
  mrOwner: Uint8Array;
  mrOwnerConfig: Uint8Array;
  rtmr: [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
}

export const MR_FILES = {
  mrTd: "mrtd:sha384",
  mrConfigId: "mrconfigid",
  mrOwner: "mrowner",
  mrOwnerConfig: "mrownerconfig",
} as const;

export function rtmrFile(index: number): string {
  return `rtmr${index}:sha384`;
}

async function read48(fs: GuestFs, path: string): Promise<Uint8Array> {
  let b: Uint8Array;
  try {
    b = await readWhole(fs, path);
  } catch (e) {
    throw guestSyscallError("mr-read", e, path);
  }
  if (b.length !== 48)
    throw new TdxError("GUEST_BAD_MEASUREMENT", `${path} holds ${b.length} bytes, expected 48`, {
      hint: "this is not the tsm-mr measurements interface of a TDX guest",
      data: { path },
    });
  return b;
}

export async function readMeasurementsSysfs(fs: GuestFs, dir: string): Promise<Measurements> {
  const [mrTd, mrConfigId, mrOwner, mrOwnerConfig, r0, r1, r2, r3] = await Promise.all([
    read48(fs, join(dir, MR_FILES.mrTd)),
    read48(fs, join(dir, MR_FILES.mrConfigId)),
    read48(fs, join(dir, MR_FILES.mrOwner)),
    read48(fs, join(dir, MR_FILES.mrOwnerConfig)),
    ...[0, 1, 2, 3].map((i) => read48(fs, join(dir, rtmrFile(i)))),
  ]);
  return {
    mrTd: mrTd!,
    mrConfigId: mrConfigId!,
    mrOwner: mrOwner!,
    mrOwnerConfig: mrOwnerConfig!,
    rtmr: [r0!, r1!, r2!, r3!],
  };
}

export async function extendRtmrSysfs(
  fs: GuestFs,
  dir: string,
  index: number,
  digest: Uint8Array,
): Promise<void> {
  checkRtmrArgs(index, digest);
  const path = join(dir, rtmrFile(index));
  let n: number;
  try {
    n = await writeOnceAndClose(fs, path, digest);
  } catch (e) {
    throw guestSyscallError("mr-extend", e, path);
  }
  if (n !== 48)
    throw new TdxError("GUEST_RTMR_EXTEND_SHORT", `${path} accepted ${n} of 48 bytes`, {
      hint: "the RTMR may not have been extended; read it back and check the kernel log",
    });
}

/** The registers from a TDREPORT (TDINFO at 512: MRTD 528, MRCONFIGID 576, MROWNER 624, ..., RTMR0 720). */
export function measurementsFromTdReport(report: Uint8Array): Measurements {
  const at = (off: number) => report.slice(off, off + 48);
  return {
    mrTd: at(528),
    mrConfigId: at(576),
    mrOwner: at(624),
    mrOwnerConfig: at(672),
    rtmr: [at(720), at(768), at(816), at(864)],
  };
}
