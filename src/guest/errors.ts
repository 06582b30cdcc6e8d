/**
 * errno → TdxError for the guest interfaces, with the meaning each errno has for that interface and kernel
 * version (guest-abi §1.3, §2.5, §3). The same errno means different things on different files: EINVAL from
 * outblob is a bad inblob, from the ioctl it is TDX_OPERAND_INVALID on kernels before 6.16.
 */
import { type ErrorCode, TdxError } from "../errors.js";

export type GuestOp =
  | "configfs-mkdir"
  | "configfs-write"
  | "configfs-read"
  | "configfs-rmdir"
  | "device-open"
  | "ioctl-report"
  | "ioctl-quote"
  | "mr-read"
  | "mr-extend";

interface Mapping {
  code: ErrorCode;
  meaning: string;
  hint: string;
}

function mappingFor(errno: string, op: GuestOp): Mapping {
  const configfs = op.startsWith("configfs");
  switch (errno) {
    case "ENOENT":
    case "ENODEV":
      return {
        code: op === "device-open" ? "GUEST_NOT_IN_TD" : "GUEST_INTERFACE_MISSING",
        meaning: "the interface does not exist on this machine",
        hint: "not inside a TD, or the kernel lacks this interface; run `tdx-attest status` to see what is available. For development use --provider sim (--provider sim --qgs ADDR has a QGS sign the simulated TDREPORT; --provider qgs needs a TD's /dev/tdx_guest)",
      };
    case "EACCES":
    case "EPERM":
      return {
        code: "GUEST_PERMISSION_DENIED",
        meaning: "permission denied",
        hint: "the TDX guest interfaces are root-only: run as root (or grant access to the device/configfs)",
      };
    case "EBUSY":
      return configfs
        ? {
            code: "GUEST_QUOTE_BUFFER_IN_FLIGHT",
            meaning:
              "the kernel's GetQuote buffer is still in flight from an earlier request the host never answered (from 6.16 also TDX_OPERAND_BUSY from TDG.MR.REPORT)",
            hint: "the host's quote service is stuck: check QEMU's quote-generation-socket and the QGS on the host (journalctl -u qgsd); --provider device talks to the QGS without the kernel's buffer",
          }
        : {
            code: "GUEST_BUSY",
            meaning: "the TDX module reported TDX_OPERAND_BUSY",
            hint: "another TDCALL holds the resource; retry",
          };
    case "EINTR":
      return {
        code: "GUEST_INTERRUPTED",
        meaning: "a signal interrupted the request",
        hint: "retry the request",
      };
    case "EINVAL":
      if (configfs)
        return {
          code: "GUEST_INVALID_REQUEST",
          meaning: "the kernel refused the request: inblob was not written or is not exactly 64 bytes",
          hint: "write exactly 64 bytes of REPORTDATA to inblob and close it before reading outblob",
        };
      if (op === "mr-extend")
        return {
          code: "GUEST_INVALID_REQUEST",
          meaning: "an RTMR extend must be exactly 48 bytes written at offset 0",
          hint: "extend with a SHA-384 digest (48 bytes)",
        };
      return {
        code: "GUEST_INVALID_REQUEST",
        meaning:
          "EINVAL: TDX_OPERAND_INVALID (kernels before 6.16) or an ioctl the legacy driver does not know",
        hint: "check the kernel version against the provider (tdx-attest status); /dev/tdx-attest only exists on 2022 seed kernels",
      };
    case "ENXIO":
      return configfs
        ? {
            code: "GUEST_NO_TSM_PROVIDER",
            meaning: "no TSM provider is registered with configfs-tsm",
            hint: "load the tdx_guest module (modprobe tdx_guest) or use another provider",
          }
        : {
            code: "GUEST_INVALID_REQUEST",
            meaning: "the TDX module reported TDX_OPERAND_INVALID (kernel 6.16+)",
            hint: "the TD cannot produce this report; check the TDX module version",
          };
    case "EIO":
      return configfs || op === "ioctl-quote"
        ? {
            code: "GUEST_QUOTE_FAILED",
            meaning:
              "the GetQuote TDVMCALL was refused (the host answers RETRY when busy) or the host reported an error (configfs-tsm from 7.1)",
            hint: "the host's quote generation failed: check that QEMU has quote-generation-socket set and the QGS runs on the host",
          }
        : {
            code: "GUEST_TDCALL_FAILED",
            meaning: "the TDCALL failed",
            hint: "the TDX module refused the call; check the kernel log (dmesg)",
          };
    case "ETIMEDOUT":
      return {
        code: "GUEST_QUOTE_TIMEOUT",
        meaning:
          "the host answered in the last second of the kernel's 30-second wait and the kernel dropped the answer",
        hint: "retry (the kernel's buffer is free again); the QGS on the host takes about 30 s: check it and its PCCS (journalctl -u qgsd)",
      };
    case "EFBIG":
      return op === "configfs-write"
        ? {
            code: "GUEST_REPORT_DATA_SIZE",
            meaning: "inblob takes at most 64 bytes",
            hint: "REPORTDATA is exactly 64 bytes",
          }
        : {
            code: "GUEST_QUOTE_TOO_LARGE",
            meaning: "the quote exceeds the kernel's buffer",
            hint: "the GetQuote buffer is 8 KiB up to Linux 6.19 and 128 KiB from 7.0; a quote that does not fit needs a newer guest kernel, or the host sent a corrupt length",
          };
    case "EFAULT":
      return {
        code: "GUEST_FAULT",
        meaning: "the kernel could not copy the buffer",
        hint: "this is a bug in tdx-attest's ioctl buffer handling; please report it",
      };
    case "ENOTTY":
      if (configfs)
        return {
          code: "GUEST_NO_TSM_PROVIDER",
          meaning: "the TSM provider was unregistered (kernels before 6.16 answer a read with ENOTTY then)",
          hint: "remove the directories under /sys/kernel/config/tsm/report, then modprobe tdx_guest",
        };
      return {
        code: "GUEST_IOCTL_UNSUPPORTED",
        meaning: "the driver does not know this ioctl",
        hint: "this kernel's driver has another ABI: run `tdx-attest status` and pick the provider it offers",
      };
    case "ENOMEM":
      return { code: "GUEST_OUT_OF_MEMORY", meaning: "the kernel ran out of memory", hint: "retry later" };
    case "ETXTBSY":
      return {
        code: "GUEST_FILE_BUSY",
        meaning: "configfs refused mixing read and write on one descriptor",
        hint: "this is a bug in tdx-attest; please report it",
      };
    default:
      return {
        code: "GUEST_SYSCALL_FAILED",
        meaning: `unexpected ${errno}`,
        hint: "run `tdx-attest status` and check the kernel log (dmesg)",
      };
  }
}

/** Map a failed system call (anything with an errno `code`) on a guest interface to a TdxError. */
export function guestSyscallError(op: GuestOp, e: unknown, path: string): TdxError {
  if (e instanceof TdxError) return e;
  const errno = (e as { code?: unknown }).code;
  const name = typeof errno === "string" ? errno : "EUNKNOWN";
  const m = mappingFor(name, op);
  const hint =
    m.code === "GUEST_NOT_IN_TD"
      ? `not inside a TD: ${path} is missing; use --provider sim for development (tdx-attest status lists what this machine offers)`
      : m.hint;
  return new TdxError(m.code, `${op} on ${path} failed with ${name}: ${m.meaning}`, {
    cause: e,
    hint,
    data: { errno: name, op, path },
  });
}

export function checkReportData(reportData: Uint8Array): void {
  if (!(reportData instanceof Uint8Array) || reportData.length !== 64)
    throw new TdxError(
      "GUEST_REPORT_DATA_SIZE",
      `REPORTDATA must be exactly 64 bytes, got ${reportData instanceof Uint8Array ? reportData.length : typeof reportData}`,
      { field: "reportData", hint: "pass 64 bytes (128 hex digits); pad shorter values with zeros" },
    );
}

export function checkRtmrArgs(index: number, digest: Uint8Array): void {
  if (!Number.isInteger(index) || index < 0 || index > 3)
    throw new TdxError("GUEST_RTMR_INDEX", `RTMR index ${index} is out of range`, {
      field: "index",
      hint: "RTMRs are numbered 0..3; user space normally extends RTMR 3",
    });
  if (!(digest instanceof Uint8Array) || digest.length !== 48)
    throw new TdxError("GUEST_RTMR_DIGEST_SIZE", "an RTMR extend takes exactly 48 bytes", {
      field: "digest",
      hint: "extend with a SHA-384 digest of the event data",
    });
}
