import type { ErrorTable } from "../errors.js";

/** Error codes of qgs/: Intel's QGS message protocol, its framing, the transports, the GetQuote buffer. */
export const QGS_ERRORS = {
  FFI_UNAVAILABLE: {
    doc: "koffi or libc cannot load, or not Linux: ioctls and AF_VSOCK are unavailable (configfs, sim, unix:/tcp: QGS still work)",
    page: "guest.md",
  },
  QGS_ADDRESS_IN_USE: {
    doc: "the QGS server's listen path exists and is not a socket, or another server answers on it",
    page: "qgs.md",
  },
  QGS_BAD_ADDRESS: {
    doc: "a QGS address that is not unix:PATH, tcp:HOST:PORT, vsock:PORT or vsock:CID:PORT",
    page: "qgs.md",
  },
  QGS_BAD_ERROR_CODE: {
    doc: "asked to encode a non-error (SUCCESS or unknown) as a QGS error response",
    page: "qgs.md",
  },
  QGS_BAD_FMSPC: { doc: "an FMSPC that is not 12 hex digits", page: "qgs.md" },
  QGS_COLLATERAL_MALFORMED: {
    doc: "a collateral part from the QGS is not what Intel's QPL returns (the part is the field)",
    page: "qgs.md",
  },
  QGS_COLLATERAL_MISMATCH: {
    doc: "the QGS answered with the TCB Info of another FMSPC than asked",
    page: "qgs.md",
  },
  QGS_CONNECTION_CLOSED: {
    doc: "the QGS closed the connection before a whole answer (Intel's QGS does so when it cannot parse a request)",
    page: "qgs.md",
  },
  QGS_CONNECTION_ERROR: { doc: "the connection to the QGS failed after it was established", page: "qgs.md" },
  QGS_FRAME_TOO_LARGE: { doc: "a frame announces more bytes than the message size limit", page: "qgs.md" },
  QGS_FRAME_TRAILING_BYTES: {
    doc: "more bytes follow a frame than its length prefix announces",
    page: "qgs.md",
  },
  QGS_FRAME_TRUNCATED: {
    doc: "a frame ends before its 4-byte length prefix or the bytes it announces",
    page: "qgs.md",
  },
  QGS_INVALID_CODE: {
    doc: "QGS error 0x12007: error_code or report_size has a forbidden value (ours or a QGS's, data.remote)",
    page: "qgs.md",
  },
  QGS_INVALID_PARAMETER: {
    doc: "QGS error 0x12003: the message is shorter than its fixed part (ours or a QGS's, data.remote)",
    page: "qgs.md",
  },
  QGS_INVALID_SIZE: {
    doc: "QGS error 0x12006: a size field disagrees with the message length (ours or a QGS's, data.remote)",
    page: "qgs.md",
  },
  QGS_INVALID_TYPE: {
    doc: "QGS error 0x12005: the message type is not the one expected (ours or a QGS's, data.remote)",
    page: "qgs.md",
  },
  QGS_INVALID_VERSION: {
    doc: "QGS error 0x12004: unsupported message major version or unknown type (ours or a QGS's, data.remote)",
    page: "qgs.md",
  },
  QGS_LISTEN_FAILED: {
    doc: "the QGS server cannot listen on its address (in use, not permitted, vsock modules missing)",
    page: "qgs.md",
  },
  QGS_NOT_A_MESSAGE: {
    doc: "(server log) the bytes received are neither a framed message nor a TDREPORT",
    page: "qgs.md",
  },
  QGS_NO_COLLATERAL: {
    doc: "(server log) the QGS backend has no collateral for the platform asked",
    page: "qgs.md",
  },
  QGS_NO_PLATFORM_INFO: { doc: "(server log) the QGS backend has no platform info", page: "qgs.md" },
  QGS_OUT_OF_MEMORY: { doc: "QGS error 0x12002: the QGS ran out of memory", page: "qgs.md" },
  QGS_RESPONSE_TOO_LARGE: {
    doc: "a QGS response larger than maxResponseSize (the peer is not a QGS?)",
    page: "qgs.md",
  },
  QGS_SOCKET_PATH_TOO_LONG: {
    doc: "a unix socket path longer than 107 bytes (sockaddr_un; Node would cut it silently); data.bytes, data.max",
    page: "qgs.md",
  },
  QGS_TIMEOUT: { doc: "no answer from the QGS within the timeout (the phase is named)", page: "qgs.md" },
  QGS_UNEXPECTED: {
    doc: "QGS error 0x12001: the QGS failed to produce a quote (Intel's QGS reports every backend failure so)",
    page: "qgs.md",
  },
  QGS_UNKNOWN_ERROR: { doc: "a QGS answered with an error code outside Intel's enumeration", page: "qgs.md" },
  QGS_UNREACHABLE: {
    doc: "cannot connect to the QGS (the address and errno are named, and what to start)",
    page: "qgs.md",
  },
  QGS_UNSUPPORTED_PCK_CA: {
    doc: '(server log) a collateral request for a PCK CA other than "platform" or "processor"',
    page: "qgs.md",
  },
  QGS_UNSUPPORTED_TYPE: {
    doc: "(server log) a message type this QGS does not serve; the connection is closed",
    page: "qgs.md",
  },
  TDREPORT_BAD_SIZE: {
    doc: "(QGS) a TDREPORT that is not 1024 bytes; clients see QGS_UNEXPECTED",
    page: "qgs.md",
  },
  TDREPORT_BAD_TYPE: {
    doc: "(QGS) a TDREPORT whose REPORTTYPE is not TDX (0x81, subtype 0, version 0 or 1); clients see QGS_UNEXPECTED",
    page: "qgs.md",
  },
  TDREPORT_RESERVED_NONZERO: {
    doc: "(QGS) a TDREPORT with a reserved byte that is not zero; clients see QGS_UNEXPECTED",
    page: "qgs.md",
  },
  TDVMCALL_BUFFER_TOO_SMALL: {
    doc: "a payload or quote does not fit the GetQuote shared buffer",
    page: "qgs.md",
  },
  TDVMCALL_BUFFER_TRUNCATED: {
    doc: "a GetQuote buffer without its 24-byte header, or holding fewer bytes than its header announces",
    page: "qgs.md",
  },
  TDVMCALL_QGS_UNAVAILABLE: {
    doc: "GetQuote status SERVICE_UNAVAILABLE: the VMM could not reach a QGS",
    page: "qgs.md",
  },
  TDVMCALL_QUOTE_EMPTY: { doc: "GetQuote succeeded with out_len 0", page: "qgs.md" },
  TDVMCALL_QUOTE_FAILED: { doc: "GetQuote completed with an error status (named)", page: "qgs.md" },
  TDVMCALL_QUOTE_IN_FLIGHT: {
    doc: "GetQuote status IN_FLIGHT: the VMM still owns the buffer",
    page: "qgs.md",
  },
} as const satisfies ErrorTable;
