/**
 * GET_PLATFORM_INFO_REQ (type 4) / GET_PLATFORM_INFO_RESP (type 5) of Intel's QGS message protocol 1.1: the
 * host's TDQE and PCE ISVSVNs, its platform id (the QE ID the ID enclave derives) and its raw CPUSVN, what
 * `tee_att_get_platform_info` (QuoteGeneration/quote_wrapper/tdx_quote/td_ql_logic.cpp) returns.
 *
 * Layouts (qgs_msg_lib.h, intel/confidential-computing.tee.dcap 806c50e, packed, little-endian):
 *
 *   qgs_msg_get_platform_info_req_t   header(16), nothing else
 *   qgs_msg_get_platform_info_resp_t  header(16) | tdqe_isvsvn u16 @16 | pce_isvsvn u16 @18 |
 *                                     platform_id_size u32 @20 | cpusvn_size u32 @24 | platform_id, cpusvn @28
 *
 * qgs_msg_gen_get_platform_info_resp and _inflate_ (qgs_msg_lib.cpp b4bb581) both count the two u16 ISVSVNs
 * twice: a response is 32 + platform_id_size + cpusvn_size bytes, the last 4 zero. Intel's error reply
 * (qgs_msg_gen_error_resp) is the bare 28-byte struct, which Intel's own inflate refuses as INVALID_SIZE; we
 * send it byte for byte as Intel's QGS does and accept both 28 and 32 bytes for an error when reading.
 */
import {
  checkQgsMessage,
  encodeQgsHeader,
  QGS_ERROR_MAX,
  QGS_HEADER_SIZE,
  QGS_MSG_MAJOR_VERSION,
  QGS_MSG_MINOR_VERSION,
  QgsErrorCode,
  type QgsHeader,
  QgsMsgType,
  qgsError,
  remoteQgsError,
} from "./protocol.js";

export const QGS_GET_PLATFORM_INFO_RESP_FIXED_SIZE = 28;
/** tdqe_isvsvn and pce_isvsvn, counted a second time by Intel's size formula. */
const SVN_SLACK = 4;
const UINT32_MAX = 0xffffffff;

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** qgs_msg_gen_get_platform_info_req: a bare 16-byte header of type 4. */
export function encodeGetPlatformInfoRequest(opts: { minorVersion?: number } = {}): Uint8Array {
  return encodeQgsHeader({
    majorVersion: QGS_MSG_MAJOR_VERSION,
    minorVersion: opts.minorVersion ?? QGS_MSG_MINOR_VERSION,
    type: QgsMsgType.GET_PLATFORM_INFO_REQ,
    size: QGS_HEADER_SIZE,
    errorCode: 0,
  });
}

/** qgs_msg_inflate_get_platform_info_req: header checks, error_code 0 (trailing bytes fail header.size). */
export function decodeGetPlatformInfoRequest(bytes: Uint8Array): QgsHeader {
  const header = checkQgsMessage(
    bytes,
    QGS_HEADER_SIZE,
    QgsMsgType.GET_PLATFORM_INFO_REQ,
    "GET_PLATFORM_INFO_REQ",
  );
  if (header.errorCode !== 0)
    throw qgsError(
      QgsErrorCode.INVALID_CODE,
      `GET_PLATFORM_INFO_REQ carries error_code 0x${header.errorCode.toString(16)}`,
      { field: "header.error_code", offset: 12 },
    );
  return header;
}

/** `tee_platform_info_t` (td_ql_wrapper.h): what GET_PLATFORM_INFO_RESP carries. */
export interface QgsPlatformInfo {
  tdqeIsvSvn: number;
  pceIsvSvn: number;
  /** The platform id: the QE ID (16 bytes, `sgx_key_128bit_t`) that also heads a quote's user data. */
  platformId: Uint8Array;
  /** The raw CPUSVN (16 bytes, `sgx_cpu_svn_t`). */
  cpuSvn: Uint8Array;
}

/** qgs_msg_gen_get_platform_info_resp: both byte parts non-empty (INVALID_PARAMETER otherwise). */
export function encodeGetPlatformInfoResponse(info: QgsPlatformInfo): Uint8Array {
  if (info.platformId.length === 0 || info.cpuSvn.length === 0)
    throw qgsError(
      QgsErrorCode.INVALID_PARAMETER,
      "GET_PLATFORM_INFO_RESP needs a platform id and a CPUSVN",
      {
        field: info.platformId.length === 0 ? "platform_id" : "cpusvn",
      },
    );
  const size =
    QGS_GET_PLATFORM_INFO_RESP_FIXED_SIZE + SVN_SLACK + info.platformId.length + info.cpuSvn.length;
  const out = new Uint8Array(size);
  encodeQgsHeader(
    {
      majorVersion: QGS_MSG_MAJOR_VERSION,
      minorVersion: QGS_MSG_MINOR_VERSION,
      type: QgsMsgType.GET_PLATFORM_INFO_RESP,
      size,
      errorCode: 0,
    },
    out,
  );
  const v = view(out);
  v.setUint16(16, info.tdqeIsvSvn, true);
  v.setUint16(18, info.pceIsvSvn, true);
  v.setUint32(20, info.platformId.length, true);
  v.setUint32(24, info.cpuSvn.length, true);
  out.set(info.platformId, 28);
  out.set(info.cpuSvn, 28 + info.platformId.length);
  return out;
}

export interface GetPlatformInfoResponse {
  header: QgsHeader;
  errorCode: number;
  /** The platform info (byte parts are views into the input), or null in an error response. */
  info: QgsPlatformInfo | null;
}

/**
 * qgs_msg_inflate_get_platform_info_resp, rule by rule, with one addition: an error response of exactly the
 * 28 bytes Intel's QGS sends (qgs_msg_gen_error_resp) is read as the error it carries.
 */
export function decodeGetPlatformInfoResponse(bytes: Uint8Array): GetPlatformInfoResponse {
  const header = checkQgsMessage(
    bytes,
    QGS_GET_PLATFORM_INFO_RESP_FIXED_SIZE,
    QgsMsgType.GET_PLATFORM_INFO_RESP,
    "GET_PLATFORM_INFO_RESP",
  );
  const v = view(bytes);
  const platformIdSize = v.getUint32(20, true);
  const cpuSvnSize = v.getUint32(24, true);
  const isError = header.errorCode !== 0 && header.errorCode < QGS_ERROR_MAX;
  const intelErrorReply =
    isError &&
    header.size === QGS_GET_PLATFORM_INFO_RESP_FIXED_SIZE &&
    platformIdSize === 0 &&
    cpuSvnSize === 0;
  const expected = QGS_GET_PLATFORM_INFO_RESP_FIXED_SIZE + SVN_SLACK + platformIdSize + cpuSvnSize;
  if (!intelErrorReply) {
    if (expected >= UINT32_MAX)
      throw qgsError(QgsErrorCode.UNEXPECTED, "GET_PLATFORM_INFO_RESP sizes overflow 32 bits", {
        offset: 20,
      });
    if (expected !== header.size)
      throw qgsError(
        QgsErrorCode.INVALID_SIZE,
        `GET_PLATFORM_INFO_RESP sizes add up to ${expected} bytes, header.size is ${header.size}`,
        { field: "cpusvn_size", offset: 24 },
      );
  }
  if (header.errorCode === 0) {
    if (platformIdSize === 0 || cpuSvnSize === 0)
      throw qgsError(QgsErrorCode.INVALID_SIZE, "successful GET_PLATFORM_INFO_RESP has an empty part", {
        field: platformIdSize === 0 ? "platform_id_size" : "cpusvn_size",
        offset: platformIdSize === 0 ? 20 : 24,
      });
    return {
      header,
      errorCode: 0,
      info: {
        tdqeIsvSvn: v.getUint16(16, true),
        pceIsvSvn: v.getUint16(18, true),
        platformId: bytes.subarray(28, 28 + platformIdSize),
        cpuSvn: bytes.subarray(28 + platformIdSize, 28 + platformIdSize + cpuSvnSize),
      },
    };
  }
  if (isError) {
    if (platformIdSize !== 0 || cpuSvnSize !== 0)
      throw qgsError(QgsErrorCode.INVALID_SIZE, "error GET_PLATFORM_INFO_RESP carries a payload", {
        field: platformIdSize !== 0 ? "platform_id_size" : "cpusvn_size",
        offset: platformIdSize !== 0 ? 20 : 24,
      });
    return { header, errorCode: header.errorCode, info: null };
  }
  throw qgsError(
    QgsErrorCode.INVALID_CODE,
    `GET_PLATFORM_INFO_RESP error_code 0x${header.errorCode.toString(16)} is outside Intel's enumeration`,
    { field: "header.error_code", offset: 12 },
  );
}

/** The platform info of a decoded response, or the remote QGS error mapped to a TdxError. */
export function platformInfoFromResponse(resp: GetPlatformInfoResponse): QgsPlatformInfo {
  if (resp.errorCode !== 0 || resp.info === null)
    throw remoteQgsError(resp.errorCode || QgsErrorCode.UNEXPECTED, "GET_PLATFORM_INFO");
  return resp.info;
}
