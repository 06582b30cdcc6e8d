/**
 * Intel's QGS message protocol 1.1 (DCAP qgs_msg_lib): a 16-byte little-endian header followed by a
 * typed body. This file holds the header, the error codes and replies shared by every type, and
 * GET_QUOTE_REQ / GET_QUOTE_RESP; collateral-message.ts and platform-info-message.ts hold the other two
 * request/response pairs. Validation follows qgs_msg_lib.cpp rule by rule (guest-abi §6.4).
 *
 * Source: intel/confidential-computing.tee.dcap QuoteGeneration/quote_wrapper/qgs_msg_lib/inc/qgs_msg_lib.h
 * (806c50e) and qgs_msg_lib.cpp (b4bb581).
 */
import { type ErrorCode, TdxError } from "../errors.js";

export const QGS_MSG_MAJOR_VERSION = 1;
export const QGS_MSG_MINOR_VERSION = 1;
export const QGS_HEADER_SIZE = 16;
/** Fixed part of GET_QUOTE_REQ / GET_QUOTE_RESP (header + two u32 sizes). */
export const QGS_GET_QUOTE_FIXED_SIZE = 24;

export const QgsMsgType = {
  GET_QUOTE_REQ: 0,
  GET_QUOTE_RESP: 1,
  GET_COLLATERAL_REQ: 2,
  GET_COLLATERAL_RESP: 3,
  GET_PLATFORM_INFO_REQ: 4,
  GET_PLATFORM_INFO_RESP: 5,
  /** Service-TD migration quote (TDREPORT + tdx_servtd_ext_t); named by Intel's current header, not served here. */
  GET_QUOTE_MIG_REQ: 6,
} as const;
/** qgs_msg_type_t's QGS_MSG_TYPE_MAX in Intel's current header (6 before GET_QUOTE_MIG_REQ was added). */
export const QGS_MSG_TYPE_MAX = 7;

/** The response type that answers each request type this protocol defines an answer for. */
export const QGS_RESPONSE_TYPE: Readonly<Record<number, number>> = {
  [QgsMsgType.GET_QUOTE_REQ]: QgsMsgType.GET_QUOTE_RESP,
  [QgsMsgType.GET_COLLATERAL_REQ]: QgsMsgType.GET_COLLATERAL_RESP,
  [QgsMsgType.GET_PLATFORM_INFO_REQ]: QgsMsgType.GET_PLATFORM_INFO_RESP,
};

export const QgsErrorCode = {
  SUCCESS: 0,
  UNEXPECTED: 0x12001,
  OUT_OF_MEMORY: 0x12002,
  INVALID_PARAMETER: 0x12003,
  INVALID_VERSION: 0x12004,
  INVALID_TYPE: 0x12005,
  INVALID_SIZE: 0x12006,
  INVALID_CODE: 0x12007,
} as const;
export const QGS_ERROR_MAX = 0x12008;

/** Intel's TDQE attestation key id (TDX_SGX_ECDSA_ATTESTATION_ID), the only id a QGS selects. */
export const TDQE_ATTESTATION_KEY_ID = Uint8Array.from([
  0xe8, 0x6c, 0x04, 0x6e, 0x8c, 0xc4, 0x4d, 0x95, 0x81, 0x73, 0xfc, 0x43, 0xc1, 0xfa, 0x4f, 0x3f,
]);

interface QgsErrorInfo {
  name: string;
  meaning: string;
  hint: string;
}

const ERROR_INFO: Record<number, QgsErrorInfo> = {
  [QgsErrorCode.UNEXPECTED]: {
    name: "UNEXPECTED",
    meaning: "the QGS failed to produce a quote",
    hint: "Intel's QGS reports every backend failure this way: check the QGS log (journalctl -u qgsd) for PCCS reachability and the platform's registration",
  },
  [QgsErrorCode.OUT_OF_MEMORY]: {
    name: "OUT_OF_MEMORY",
    meaning: "the QGS ran out of memory",
    hint: "restart the QGS or free memory on the host",
  },
  [QgsErrorCode.INVALID_PARAMETER]: {
    name: "INVALID_PARAMETER",
    meaning: "the message is shorter than its fixed part",
    hint: "the peer sent a truncated message; check that the whole frame is written in one piece",
  },
  [QgsErrorCode.INVALID_VERSION]: {
    name: "INVALID_VERSION",
    meaning: "unsupported message major version or unknown message type",
    hint: "this QGS speaks message protocol 1.x; upgrade the client or the QGS so they agree",
  },
  [QgsErrorCode.INVALID_TYPE]: {
    name: "INVALID_TYPE",
    meaning: "the message type is not the one expected here",
    hint: "requests GET_QUOTE 0, GET_COLLATERAL 2 and GET_PLATFORM_INFO 4 are answered by types 1, 3 and 5",
  },
  [QgsErrorCode.INVALID_SIZE]: {
    name: "INVALID_SIZE",
    meaning: "a size field disagrees with the message length",
    hint: "header.size must equal the frame length and the sum of the fixed part and the payload sizes",
  },
  [QgsErrorCode.INVALID_CODE]: {
    name: "INVALID_CODE",
    meaning: "error_code or report_size has a forbidden value",
    hint: "requests carry error_code 0 (and GET_QUOTE_REQ a non-zero report_size); responses an error code below 0x12008",
  },
};

/** The TdxError code of each QGS error code: QGS_ and Intel's name. */
const QGS_TDX_CODE: Readonly<Record<number, ErrorCode>> = {
  [QgsErrorCode.UNEXPECTED]: "QGS_UNEXPECTED",
  [QgsErrorCode.OUT_OF_MEMORY]: "QGS_OUT_OF_MEMORY",
  [QgsErrorCode.INVALID_PARAMETER]: "QGS_INVALID_PARAMETER",
  [QgsErrorCode.INVALID_VERSION]: "QGS_INVALID_VERSION",
  [QgsErrorCode.INVALID_TYPE]: "QGS_INVALID_TYPE",
  [QgsErrorCode.INVALID_SIZE]: "QGS_INVALID_SIZE",
  [QgsErrorCode.INVALID_CODE]: "QGS_INVALID_CODE",
};

/** Name, meaning and hint for a QGS error code (unknown codes are named by their hex value). */
export function qgsErrorInfo(code: number): QgsErrorInfo {
  if (code === 0) return { name: "SUCCESS", meaning: "success", hint: "" };
  return (
    ERROR_INFO[code] ?? {
      name: `0x${code.toString(16)}`,
      meaning: "an error code outside Intel's enumeration",
      hint: "the peer is not a QGS speaking message protocol 1.1",
    }
  );
}

/** A TdxError for a QGS error code, raised by our parsers or reported by a remote QGS. */
export function qgsError(
  code: number,
  message: string,
  details: { field?: string; offset?: number; remote?: boolean } = {},
): TdxError {
  const info = qgsErrorInfo(code);
  const tdxCode = QGS_TDX_CODE[code] ?? "QGS_UNKNOWN_ERROR";
  return new TdxError(tdxCode, message, {
    field: details.field,
    offset: details.offset,
    hint: info.hint,
    data: { qgsErrorCode: code, qgsErrorName: info.name, remote: details.remote === true },
  });
}

export interface QgsHeader {
  majorVersion: number;
  minorVersion: number;
  type: number;
  size: number;
  errorCode: number;
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function encodeQgsHeader(h: QgsHeader, out: Uint8Array = new Uint8Array(QGS_HEADER_SIZE)): Uint8Array {
  const v = view(out);
  v.setUint16(0, h.majorVersion, true);
  v.setUint16(2, h.minorVersion, true);
  v.setUint32(4, h.type, true);
  v.setUint32(8, h.size, true);
  v.setUint32(12, h.errorCode, true);
  return out;
}

export function decodeQgsHeader(bytes: Uint8Array): QgsHeader {
  if (bytes.length < QGS_HEADER_SIZE)
    throw qgsError(
      QgsErrorCode.INVALID_PARAMETER,
      `QGS message of ${bytes.length} bytes has no 16-byte header`,
      {
        field: "header",
        offset: bytes.length,
      },
    );
  const v = view(bytes);
  return {
    majorVersion: v.getUint16(0, true),
    minorVersion: v.getUint16(2, true),
    type: v.getUint32(4, true),
    size: v.getUint32(8, true),
    errorCode: v.getUint32(12, true),
  };
}

/** qgs_msg_get_type: size >= 16, major == 1, type < 7 (both failures are INVALID_VERSION, as in Intel's code). */
export function qgsMessageType(bytes: Uint8Array): number {
  const h = decodeQgsHeader(bytes);
  if (h.majorVersion !== QGS_MSG_MAJOR_VERSION)
    throw qgsError(
      QgsErrorCode.INVALID_VERSION,
      `QGS message major version ${h.majorVersion}, expected ${QGS_MSG_MAJOR_VERSION}`,
      { field: "header.major_version", offset: 0 },
    );
  if (h.type >= QGS_MSG_TYPE_MAX)
    throw qgsError(QgsErrorCode.INVALID_VERSION, `QGS message type ${h.type} is unknown`, {
      field: "header.type",
      offset: 4,
    });
  return h.type;
}

/**
 * Checks shared by every qgs_msg_inflate_*: fixed part present (INVALID_PARAMETER), major version
 * (INVALID_VERSION; the minor is not checked), type (INVALID_TYPE), header.size == length (INVALID_SIZE).
 */
export function checkQgsMessage(bytes: Uint8Array, fixedSize: number, type: number, what: string): QgsHeader {
  if (bytes.length < fixedSize)
    throw qgsError(
      QgsErrorCode.INVALID_PARAMETER,
      `${what} of ${bytes.length} bytes is shorter than its ${fixedSize}-byte fixed part`,
      { offset: bytes.length },
    );
  const h = decodeQgsHeader(bytes);
  if (h.majorVersion !== QGS_MSG_MAJOR_VERSION)
    throw qgsError(
      QgsErrorCode.INVALID_VERSION,
      `${what} has major version ${h.majorVersion}, expected ${QGS_MSG_MAJOR_VERSION}`,
      { field: "header.major_version", offset: 0 },
    );
  if (h.type !== type)
    throw qgsError(QgsErrorCode.INVALID_TYPE, `${what} expected message type ${type}, got ${h.type}`, {
      field: "header.type",
      offset: 4,
    });
  if (h.size !== bytes.length)
    throw qgsError(
      QgsErrorCode.INVALID_SIZE,
      `${what} header.size ${h.size} does not match the ${bytes.length}-byte message`,
      { field: "header.size", offset: 8 },
    );
  return h;
}

export interface GetQuoteRequest {
  header: QgsHeader;
  /** The TDREPORT (1024 bytes from a TD). A view into the input. */
  report: Uint8Array;
  /** Attestation key ids, 16 bytes each; empty when the request has no list. A view into the input. */
  idList: Uint8Array;
}

export function encodeGetQuoteRequest(
  report: Uint8Array,
  opts: { idList?: Uint8Array; majorVersion?: number; minorVersion?: number } = {},
): Uint8Array {
  const idList = opts.idList ?? new Uint8Array(0);
  const size = QGS_GET_QUOTE_FIXED_SIZE + report.length + idList.length;
  const out = new Uint8Array(size);
  encodeQgsHeader(
    {
      majorVersion: opts.majorVersion ?? QGS_MSG_MAJOR_VERSION,
      minorVersion: opts.minorVersion ?? QGS_MSG_MINOR_VERSION,
      type: QgsMsgType.GET_QUOTE_REQ,
      size,
      errorCode: 0,
    },
    out,
  );
  const v = view(out);
  v.setUint32(16, report.length, true);
  v.setUint32(20, idList.length, true);
  out.set(report, 24);
  out.set(idList, 24 + report.length);
  return out;
}

export function decodeGetQuoteRequest(bytes: Uint8Array): GetQuoteRequest {
  const header = checkQgsMessage(bytes, QGS_GET_QUOTE_FIXED_SIZE, QgsMsgType.GET_QUOTE_REQ, "GET_QUOTE_REQ");
  if (header.errorCode !== 0)
    throw qgsError(
      QgsErrorCode.INVALID_CODE,
      `GET_QUOTE_REQ carries error_code 0x${header.errorCode.toString(16)}`,
      { field: "header.error_code", offset: 12 },
    );
  const v = view(bytes);
  const reportSize = v.getUint32(16, true);
  const idListSize = v.getUint32(20, true);
  const expected = QGS_GET_QUOTE_FIXED_SIZE + reportSize + idListSize;
  if (expected !== header.size)
    throw qgsError(
      QgsErrorCode.INVALID_SIZE,
      `GET_QUOTE_REQ sizes add up to ${expected} bytes, header.size is ${header.size}`,
      { field: "report_size", offset: 16 },
    );
  if (reportSize === 0)
    throw qgsError(QgsErrorCode.INVALID_CODE, "GET_QUOTE_REQ has report_size 0", {
      field: "report_size",
      offset: 16,
    });
  return {
    header,
    report: bytes.subarray(24, 24 + reportSize),
    idList: bytes.subarray(24 + reportSize, expected),
  };
}

export interface GetQuoteResponse {
  header: QgsHeader;
  errorCode: number;
  /** The attestation key id the QGS selected (empty when the request had no list). */
  selectedId: Uint8Array;
  /** The quote (empty on error). */
  quote: Uint8Array;
}

export function encodeGetQuoteResponse(
  quote: Uint8Array,
  opts: { selectedId?: Uint8Array; minorVersion?: number } = {},
): Uint8Array {
  const selectedId = opts.selectedId ?? new Uint8Array(0);
  const size = QGS_GET_QUOTE_FIXED_SIZE + selectedId.length + quote.length;
  const out = new Uint8Array(size);
  encodeQgsHeader(
    {
      majorVersion: QGS_MSG_MAJOR_VERSION,
      minorVersion: opts.minorVersion ?? QGS_MSG_MINOR_VERSION,
      type: QgsMsgType.GET_QUOTE_RESP,
      size,
      errorCode: 0,
    },
    out,
  );
  const v = view(out);
  v.setUint32(16, selectedId.length, true);
  v.setUint32(20, quote.length, true);
  out.set(selectedId, 24);
  out.set(quote, 24 + selectedId.length);
  return out;
}

/**
 * The size qgs_msg_gen_error_resp gives each response type: the fixed struct, payload sizes all 0
 * (qgs_msg_get_quote_resp_t 24, qgs_msg_get_collateral_resp_t 48, qgs_msg_get_platform_info_resp_t 28).
 */
const ERROR_RESPONSE_SIZE: Readonly<Record<number, number>> = {
  [QgsMsgType.GET_QUOTE_RESP]: QGS_GET_QUOTE_FIXED_SIZE,
  [QgsMsgType.GET_COLLATERAL_RESP]: 48,
  [QgsMsgType.GET_PLATFORM_INFO_RESP]: 28,
};

/**
 * qgs_msg_gen_error_resp: the fixed part of `responseType` with every size 0 and `errorCode` in the header,
 * byte for byte what Intel's QGS sends when it cannot serve a request it parsed the type of.
 */
export function encodeErrorResponse(errorCode: number, responseType: number): Uint8Array {
  if (errorCode === 0 || errorCode >= QGS_ERROR_MAX)
    throw new TdxError("QGS_BAD_ERROR_CODE", `0x${errorCode.toString(16)} is not a QGS error code`, {
      hint: "use one of QgsErrorCode other than SUCCESS",
    });
  const size = ERROR_RESPONSE_SIZE[responseType];
  if (size === undefined)
    throw qgsError(QgsErrorCode.INVALID_TYPE, `message type ${responseType} has no error response`, {
      field: "header.type",
    });
  const out = new Uint8Array(size);
  encodeQgsHeader(
    {
      majorVersion: QGS_MSG_MAJOR_VERSION,
      minorVersion: QGS_MSG_MINOR_VERSION,
      type: responseType,
      size,
      errorCode,
    },
    out,
  );
  return out;
}

/** qgs_msg_gen_error_resp for GET_QUOTE: a 24-byte response with both sizes 0. */
export function encodeGetQuoteErrorResponse(errorCode: number): Uint8Array {
  return encodeErrorResponse(errorCode, QgsMsgType.GET_QUOTE_RESP);
}

/**
 * Parse a GET_QUOTE_RESP with qgs_msg_lib's rules. A well-formed error response is returned (errorCode != 0),
 * not thrown; use {@link quoteFromResponse} to turn it into a quote or a mapped error.
 */
export function decodeGetQuoteResponse(bytes: Uint8Array): GetQuoteResponse {
  const header = checkQgsMessage(
    bytes,
    QGS_GET_QUOTE_FIXED_SIZE,
    QgsMsgType.GET_QUOTE_RESP,
    "GET_QUOTE_RESP",
  );
  const v = view(bytes);
  const selectedIdSize = v.getUint32(16, true);
  const quoteSize = v.getUint32(20, true);
  const expected = QGS_GET_QUOTE_FIXED_SIZE + selectedIdSize + quoteSize;
  if (expected !== header.size)
    throw qgsError(
      QgsErrorCode.INVALID_SIZE,
      `GET_QUOTE_RESP sizes add up to ${expected} bytes, header.size is ${header.size}`,
      { field: "quote_size", offset: 20 },
    );
  if (header.errorCode === 0) {
    if (quoteSize === 0)
      throw qgsError(QgsErrorCode.INVALID_SIZE, "successful GET_QUOTE_RESP has quote_size 0", {
        field: "quote_size",
        offset: 20,
      });
  } else if (header.errorCode < QGS_ERROR_MAX) {
    if (quoteSize !== 0 || selectedIdSize !== 0)
      throw qgsError(QgsErrorCode.INVALID_SIZE, "error GET_QUOTE_RESP carries a payload", {
        field: "quote_size",
        offset: 20,
      });
  } else {
    throw qgsError(
      QgsErrorCode.INVALID_CODE,
      `GET_QUOTE_RESP error_code 0x${header.errorCode.toString(16)} is outside Intel's enumeration`,
      { field: "header.error_code", offset: 12 },
    );
  }
  return {
    header,
    errorCode: header.errorCode,
    selectedId: bytes.subarray(24, 24 + selectedIdSize),
    quote: bytes.subarray(24 + selectedIdSize, expected),
  };
}

/** The TdxError for an error code a remote QGS answered `request` with (`data.remote = true`). */
export function remoteQgsError(errorCode: number, request: string): TdxError {
  const info = qgsErrorInfo(errorCode);
  return qgsError(
    errorCode,
    `QGS answered ${request} with error 0x${errorCode.toString(16)} (${info.name}: ${info.meaning})`,
    { field: "header.error_code", remote: true },
  );
}

/** The quote of a decoded response, or the remote QGS error mapped to a TdxError. */
export function quoteFromResponse(resp: GetQuoteResponse): Uint8Array {
  if (resp.errorCode !== 0) throw remoteQgsError(resp.errorCode, "GET_QUOTE");
  return resp.quote;
}
