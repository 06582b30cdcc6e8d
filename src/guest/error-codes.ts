import type { ErrorTable } from "../errors.js";

/** Error codes of guest/: reports, quotes and RTMRs from inside a TD (configfs-tsm, /dev/tdx_guest, Azure vTPM). */
export const GUEST_ERRORS = {
  GUEST_BAD_MEASUREMENT: {
    doc: "a sysfs measurement register file does not hold 48 bytes",
    page: "guest.md",
  },
  GUEST_BAD_TDREPORT: { doc: "the driver returned something that is not a TDREPORT", page: "guest.md" },
  GUEST_BUSY: {
    doc: "EBUSY from an ioctl: TDX_OPERAND_BUSY (6.16+), or the seed driver's GetQuote buffer still held by the host; retry",
    page: "guest.md",
  },
  GUEST_CONFIGFS_RACE: {
    doc: "another writer kept changing this process's configfs-tsm report instance",
    page: "guest.md",
  },
  GUEST_CONFIGFS_SHORT_WRITE: { doc: "configfs-tsm's inblob took fewer than 64 bytes", page: "guest.md" },
  GUEST_CONFIGFS_UNEXPECTED: {
    doc: "a configfs-tsm file did not read as configfs-tsm defines it (e.g. a generation that is not a number)",
    page: "guest.md",
  },
  GUEST_EXTEND_UNSUPPORTED: {
    doc: "no user-space RTMR extend: no tsm-mr sysfs (kernel before 6.16), or an Azure CVM whose RTMRs are the paravisor's",
    page: "guest.md",
  },
  GUEST_FAULT: {
    doc: "EFAULT: the kernel could not copy the ioctl buffer (a bug: report it)",
    page: "guest.md",
  },
  GUEST_FILE_BUSY: {
    doc: "ETXTBSY: configfs refused mixing read and write on one descriptor (a bug: report it)",
    page: "guest.md",
  },
  GUEST_IMDS_ERROR: { doc: "Azure's IMDS answered an error, or no quote", page: "guest.md" },
  GUEST_IMDS_UNREACHABLE: {
    doc: "Azure's IMDS cannot be reached (it answers only inside the VM)",
    page: "guest.md",
  },
  GUEST_INTERFACE_MISSING: { doc: "a file of the chosen guest interface does not exist", page: "guest.md" },
  GUEST_INTERRUPTED: { doc: "EINTR: a signal interrupted the request; retry", page: "guest.md" },
  GUEST_INVALID_REQUEST: {
    doc: "EINVAL/ENXIO: bad inblob or extend size, or TDX_OPERAND_INVALID from TDG.MR.REPORT",
    page: "guest.md",
  },
  GUEST_IOCTL_UNSUPPORTED: {
    doc: "ENOTTY: the driver has another ABI; pick the provider `status` offers",
    page: "guest.md",
  },
  GUEST_LEGACY_ABI_UNSUPPORTED: {
    doc: "/dev/tdx-attest is the 2021-2022 Intel driver (DCAP 1.14/1.15 kernels): use --provider qgs or a 6.7+ kernel",
    page: "guest.md",
  },
  GUEST_NOT_AZURE_TDX: { doc: "the vTPM's HCL report is not a TDX one (an SEV-SNP VM)", page: "guest.md" },
  GUEST_NOT_IN_TD: {
    doc: "not inside a TD: the device node is missing and no simulator is configured (use --provider sim for development)",
    page: "guest.md",
  },
  GUEST_NO_TSM_PROVIDER: {
    doc: "configfs-tsm has no provider (modprobe tdx_guest, or remove leftover instances), or tdx_guest was unloaded during a read",
    page: "guest.md",
  },
  GUEST_OUT_OF_MEMORY: { doc: "ENOMEM: the kernel ran out of memory; retry later", page: "guest.md" },
  GUEST_PERMISSION_DENIED: {
    doc: "EACCES/EPERM: the TDX guest interfaces (or the TPM device) are root-only",
    page: "guest.md",
  },
  GUEST_QUOTE_BUFFER_IN_FLIGHT: {
    doc: "EBUSY from outblob past the retries: the kernel's GetQuote buffer belongs to a request the host never answered",
    page: "guest.md",
  },
  GUEST_QUOTE_DEADLINE: {
    doc: "the seed driver's GET_QUOTE did not return within quoteTimeoutMs; its process was killed",
    page: "guest.md",
  },
  GUEST_QUOTE_EMPTY: {
    doc: "an empty outblob within 29 s (up to 7.0): the host reported an error status (no quote-generation-socket, a QGS error)",
    page: "guest.md",
  },
  GUEST_QUOTE_FAILED: {
    doc: "EIO on a quote after retries: GetQuote refused (host RETRY), the host's error status (7.1+), or TDG.MR.REPORT failed",
    page: "guest.md",
  },
  GUEST_QUOTE_HOST_TIMEOUT: {
    doc: "the host's quote service did not answer within the kernel's 30 s; the kernel's buffer stays in flight",
    page: "guest.md",
  },
  GUEST_QUOTE_LENGTH_REFUSED: {
    doc: "EFBIG from a kernel with the CVE-2026-31470 fix: the host announced more than the GetQuote buffer holds",
    page: "guest.md",
  },
  GUEST_QUOTE_TIMEOUT: {
    doc: "ETIMEDOUT: the host answered in the 30th second of the kernel's wait and the kernel dropped it; retry",
    page: "guest.md",
  },
  GUEST_QUOTE_TOO_LARGE: {
    doc: "EFBIG from a kernel without the fix: the outblob passed configfs-tsm's limit (32 KiB before 7.0)",
    page: "guest.md",
  },
  GUEST_QUOTE_TRUNCATED: {
    doc: "the quote's header declares more bytes than the interface returned",
    page: "guest.md",
  },
  GUEST_QUOTE_WORKER_FAILED: {
    doc: "the child process for the seed driver's GET_QUOTE could not start, or ended without an answer",
    page: "guest.md",
  },
  GUEST_REPORTDATA_OWNED_BY_PARAVISOR: {
    doc: "report/quote on an Azure CVM: the paravisor chooses REPORTDATA; use `evidence` (az-tdx-vtpm)",
    page: "guest.md",
  },
  GUEST_REPORT_DATA_SIZE: {
    doc: "REPORTDATA that is not 64 bytes (az-tdx-vtpm report data: not 1 to 64 bytes)",
    page: "guest.md",
  },
  GUEST_REPORT_UNAVAILABLE: {
    doc: "a TDREPORT was asked for, but configfs-tsm hands out quotes only and /dev/tdx_guest is absent",
    page: "guest.md",
  },
  GUEST_RTMR_DIGEST_SIZE: { doc: "an RTMR extend digest that is not 48 bytes (SHA-384)", page: "guest.md" },
  GUEST_RTMR_EXTEND_SHORT: {
    doc: "the sysfs RTMR file took fewer than 48 bytes of an extend",
    page: "guest.md",
  },
  GUEST_RTMR_INDEX: { doc: "an RTMR index outside 0..3", page: "guest.md" },
  GUEST_SIM_STATE_MISSING: {
    doc: "--provider sim without a simulated platform at the folder given (the hint names the broker's folder)",
    page: "guest.md",
  },
  GUEST_SYSCALL_FAILED: {
    doc: "a guest interface failed with an errno no other code names",
    page: "guest.md",
  },
  GUEST_TDCALL_FAILED: { doc: "EIO on a report: the TDX module refused the TDCALL", page: "guest.md" },
  GUEST_TD_UNUSABLE: {
    doc: "this looks like a TD but no guest interface works (permissions, kernel version, koffi): run `tdx-attest status`",
    page: "guest.md",
  },
  GUEST_TPM_ARGUMENT: {
    doc: "refused before sending to the TPM: a nonce over 64 bytes, a digest of the wrong size, an NV size over 65535",
    page: "guest.md",
  },
  GUEST_TPM_BUSY: {
    doc: "the TPM device is held by another process (use /dev/tpmrm0), or a response is still unread",
    page: "guest.md",
  },
  GUEST_TPM_COMMAND_FAILED: {
    doc: "the TPM answered a command with an error (data.rc, data.rcName)",
    page: "guest.md",
  },
  GUEST_TPM_DEVICE_ERROR: { doc: "an I/O failure on the TPM device no other code names", page: "guest.md" },
  GUEST_TPM_MISSING: { doc: "no TPM device (not an Azure CVM with its vTPM)", page: "guest.md" },
  GUEST_TPM_NV_INDEX_MISSING: {
    doc: "the TPM NV index is not defined (0x01400001 missing: not an Azure CVM's vTPM)",
    page: "guest.md",
  },
  GUEST_TPM_PCR_UNAVAILABLE: {
    doc: "a selected PCR bank or PCR the TPM does not implement",
    page: "guest.md",
  },
  GUEST_TPM_RESPONSE_MALFORMED: {
    doc: "a TPM response that does not parse (not a TPM 2.0 device, a cut response, an unexpected signature scheme)",
    page: "guest.md",
  },
  GUEST_UNKNOWN_PROVIDER: {
    doc: "a guest provider name that does not exist (the hint lists them)",
    page: "guest.md",
  },
  GUEST_WRONG_TSM_PROVIDER: {
    doc: "configfs-tsm's provider is not tdx_guest (e.g. SEV-SNP)",
    page: "guest.md",
  },
  RUNTIME_EVENT_EXTEND_FAILED: {
    doc: "extending the RTMR for a runtime event failed; nothing was logged",
    page: "eventlog.md",
  },
  RUNTIME_LOG_IO: {
    doc: "the runtime log or its lock cannot be read or written (after a successful extend the message says so)",
    page: "eventlog.md",
  },
  RUNTIME_LOG_LOCK_TIMEOUT: {
    doc: "the runtime log stayed locked by another live writer past lockTimeoutMs (default 10 s)",
    page: "eventlog.md",
  },
} as const satisfies ErrorTable;
