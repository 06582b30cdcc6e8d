/**
 * GET_COLLATERAL_REQ (type 2) / GET_COLLATERAL_RESP (type 3) of Intel's QGS message protocol: a TD (or any
 * QGS client) asks the host for the verification collateral of an FMSPC and PCK CA, and the QGS answers with
 * what its quote provider library (QPL) returns, the seven parts of `tdx_ql_qv_collateral_t` in order.
 *
 * Layouts (qgs_msg_lib.h, intel/confidential-computing.tee.dcap 806c50e, packed, little-endian):
 *
 *   qgs_msg_get_collateral_req_t   header(16) | fsmpc_size u32 @16 | pckca_size u32 @20 | fmspc, pckca @24
 *   qgs_msg_get_collateral_resp_t  header(16) | major_version u16 @16 | minor_version u16 @18 |
 *                                  7 × u32 sizes @20..48 (pck_crl_issuer_chain, root_ca_crl, pck_crl,
 *                                  tcb_info_issuer_chain, tcb_info, qe_identity_issuer_chain, qe_identity) |
 *                                  the seven parts @48 in that order
 *
 * Rules from qgs_msg_lib.cpp (b4bb581): qgs_msg_gen_get_collateral_req / _inflate_get_collateral_req,
 * qgs_msg_gen_get_collateral_resp / _inflate_get_collateral_resp. Protocol 1.0's library
 * (intel/SGXDataCenterAttestationPrimitives 71557c7, QGS_MSG_LIB_MINOR_VER 0) counted the two u16 version
 * fields twice, so its responses end in 4 zero bytes; 1.1 keeps that layout for a request whose header
 * minor_version is 0 and, reading, for a response whose header minor_version is 0.
 */
import { TdxError } from "../errors.js";
import {
  checkQgsMessage,
  encodeQgsHeader,
  QGS_ERROR_MAX,
  QGS_MSG_MAJOR_VERSION,
  QGS_MSG_MINOR_VERSION,
  QgsErrorCode,
  type QgsHeader,
  QgsMsgType,
  qgsError,
  remoteQgsError,
} from "./protocol.js";

export const QGS_GET_COLLATERAL_REQ_FIXED_SIZE = 24;
export const QGS_GET_COLLATERAL_RESP_FIXED_SIZE = 48;
/** The version fields protocol 1.0 counted twice: a 1.0-layout response is this much longer. */
const V1_0_SLACK = 4;
const UINT32_MAX = 0xffffffff;

/** The PCK CAs Intel's QCNL accepts (`sgx_qcnl_get_pck_crl_chain`: "platform" or "processor"). */
export type PckCaName = "platform" | "processor";
export const PCK_CA_NAMES: readonly PckCaName[] = ["platform", "processor"];

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * The pckca bytes Intel's client sends: the name and its NUL terminator. QuoteGeneration/quote_wrapper/
 * tdx_verify/tdx_verify.c (`tdx_att_get_collateral`) passes `strlen(pck_ca) + 1` bytes, and the QGS hands
 * the buffer to the QPL as a C string.
 */
export function pckCaBytes(name: PckCaName): Uint8Array {
  const out = new Uint8Array(name.length + 1);
  for (let i = 0; i < name.length; i++) out[i] = name.charCodeAt(i);
  return out;
}

/** "platform" / "processor" with or without one trailing NUL; anything else is null (the QPL refuses it). */
export function pckCaNameOf(bytes: Uint8Array): PckCaName | null {
  const end = bytes.length > 0 && bytes[bytes.length - 1] === 0 ? bytes.length - 1 : bytes.length;
  let text = "";
  for (let i = 0; i < end; i++) {
    const b = bytes[i]!;
    if (b < 0x20 || b > 0x7e) return null;
    text += String.fromCharCode(b);
  }
  return (PCK_CA_NAMES as readonly string[]).includes(text) ? (text as PckCaName) : null;
}

export interface GetCollateralRequest {
  header: QgsHeader;
  /** FMSPC (6 bytes from a PCK certificate; the protocol allows any non-zero length). A view into the input. */
  fmspc: Uint8Array;
  /** The PCK CA as sent (a C string, see {@link pckCaNameOf}). A view into the input. */
  pckCa: Uint8Array;
}

/** qgs_msg_gen_get_collateral_req: both parts non-empty (INVALID_PARAMETER otherwise, as Intel's generator). */
export function encodeGetCollateralRequest(
  fmspc: Uint8Array,
  pckCa: PckCaName | Uint8Array,
  opts: { minorVersion?: number } = {},
): Uint8Array {
  const ca = typeof pckCa === "string" ? pckCaBytes(pckCa) : pckCa;
  if (fmspc.length === 0 || ca.length === 0)
    throw qgsError(QgsErrorCode.INVALID_PARAMETER, "GET_COLLATERAL_REQ needs a non-empty FMSPC and PCK CA", {
      field: fmspc.length === 0 ? "fmspc" : "pckca",
    });
  const size = QGS_GET_COLLATERAL_REQ_FIXED_SIZE + fmspc.length + ca.length;
  const out = new Uint8Array(size);
  encodeQgsHeader(
    {
      majorVersion: QGS_MSG_MAJOR_VERSION,
      minorVersion: opts.minorVersion ?? QGS_MSG_MINOR_VERSION,
      type: QgsMsgType.GET_COLLATERAL_REQ,
      size,
      errorCode: 0,
    },
    out,
  );
  const v = view(out);
  v.setUint32(16, fmspc.length, true);
  v.setUint32(20, ca.length, true);
  out.set(fmspc, 24);
  out.set(ca, 24 + fmspc.length);
  return out;
}

/** qgs_msg_inflate_get_collateral_req, rule by rule. */
export function decodeGetCollateralRequest(bytes: Uint8Array): GetCollateralRequest {
  const header = checkQgsMessage(
    bytes,
    QGS_GET_COLLATERAL_REQ_FIXED_SIZE,
    QgsMsgType.GET_COLLATERAL_REQ,
    "GET_COLLATERAL_REQ",
  );
  if (header.errorCode !== 0)
    throw qgsError(
      QgsErrorCode.INVALID_CODE,
      `GET_COLLATERAL_REQ carries error_code 0x${header.errorCode.toString(16)}`,
      { field: "header.error_code", offset: 12 },
    );
  const v = view(bytes);
  const fmspcSize = v.getUint32(16, true);
  const pckCaSize = v.getUint32(20, true);
  if (fmspcSize === 0 || pckCaSize === 0)
    throw qgsError(QgsErrorCode.INVALID_SIZE, "GET_COLLATERAL_REQ has an empty FMSPC or PCK CA", {
      field: fmspcSize === 0 ? "fmspc_size" : "pckca_size",
      offset: fmspcSize === 0 ? 16 : 20,
    });
  const expected = QGS_GET_COLLATERAL_REQ_FIXED_SIZE + fmspcSize + pckCaSize;
  if (expected >= UINT32_MAX)
    throw qgsError(QgsErrorCode.UNEXPECTED, "GET_COLLATERAL_REQ sizes overflow 32 bits", { offset: 16 });
  if (expected !== header.size)
    throw qgsError(
      QgsErrorCode.INVALID_SIZE,
      `GET_COLLATERAL_REQ sizes add up to ${expected} bytes, header.size is ${header.size}`,
      { field: "pckca_size", offset: 20 },
    );
  return {
    header,
    fmspc: bytes.subarray(24, 24 + fmspcSize),
    pckCa: bytes.subarray(24 + fmspcSize, expected),
  };
}

/**
 * The seven collateral parts as the QGS carries them (`tdx_ql_qv_collateral_t`): raw bytes, each as the QPL
 * returned it. Intel's QPL ends every part with one NUL (sgx_default_quote_provider.cpp, qcnl's
 * QvCollateralProvider): PEM chains, the TCB Info and QE Identity response bodies
 * (`{"tcbInfo":…,"signature":…}`), and the CRLs (DER for PCS and collateral versions 3.1/4.0; PEM or hex
 * for 3.0).
 */
export interface QgsCollateralParts {
  /** Collateral version the QPL reports (`sgx_qcnl_get_api_version`: 3.0, 3.1, or 4.0 for PCS v4). */
  majorVersion: number;
  minorVersion: number;
  pckCrlIssuerChain: Uint8Array;
  rootCaCrl: Uint8Array;
  pckCrl: Uint8Array;
  tcbInfoIssuerChain: Uint8Array;
  tcbInfo: Uint8Array;
  qeIdentityIssuerChain: Uint8Array;
  qeIdentity: Uint8Array;
}

/** The names of the seven byte parts. */
export type QgsCollateralPartName = Exclude<keyof QgsCollateralParts, "majorVersion" | "minorVersion">;

/** The parts in wire order, with the C field names used in errors. */
export const COLLATERAL_PARTS: ReadonlyArray<readonly [QgsCollateralPartName, string]> = [
  ["pckCrlIssuerChain", "pck_crl_issuer_chain"],
  ["rootCaCrl", "root_ca_crl"],
  ["pckCrl", "pck_crl"],
  ["tcbInfoIssuerChain", "tcb_info_issuer_chain"],
  ["tcbInfo", "tcb_info"],
  ["qeIdentityIssuerChain", "qe_identity_issuer_chain"],
  ["qeIdentity", "qe_identity"],
];

/**
 * qgs_msg_gen_get_collateral_resp (1.1): every part non-empty (INVALID_PARAMETER otherwise); the fixed part is
 * 48 bytes, or 52 with 4 zero bytes after the last part when the request's minor_version is 0 (the 1.0
 * layout); the header says minor 1 either way, as Intel's generator writes it.
 */
export function encodeGetCollateralResponse(
  parts: QgsCollateralParts,
  opts: { requestMinorVersion?: number } = {},
): Uint8Array {
  for (const [key, name] of COLLATERAL_PARTS) {
    if (parts[key].length === 0)
      throw qgsError(QgsErrorCode.INVALID_PARAMETER, `GET_COLLATERAL_RESP part ${name} is empty`, {
        field: name,
      });
  }
  const fixed =
    (opts.requestMinorVersion ?? QGS_MSG_MINOR_VERSION) === 0
      ? QGS_GET_COLLATERAL_RESP_FIXED_SIZE + V1_0_SLACK
      : QGS_GET_COLLATERAL_RESP_FIXED_SIZE;
  const size = COLLATERAL_PARTS.reduce((n, [key]) => n + parts[key].length, fixed);
  const out = new Uint8Array(size);
  encodeQgsHeader(
    {
      majorVersion: QGS_MSG_MAJOR_VERSION,
      minorVersion: QGS_MSG_MINOR_VERSION,
      type: QgsMsgType.GET_COLLATERAL_RESP,
      size,
      errorCode: 0,
    },
    out,
  );
  const v = view(out);
  v.setUint16(16, parts.majorVersion, true);
  v.setUint16(18, parts.minorVersion, true);
  let at = QGS_GET_COLLATERAL_RESP_FIXED_SIZE;
  COLLATERAL_PARTS.forEach(([key], i) => {
    v.setUint32(20 + 4 * i, parts[key].length, true);
    out.set(parts[key], at);
    at += parts[key].length;
  });
  return out;
}

export interface GetCollateralResponse {
  header: QgsHeader;
  errorCode: number;
  /** The parts (views into the input), or null in an error response. */
  collateral: QgsCollateralParts | null;
}

/**
 * qgs_msg_inflate_get_collateral_resp (1.1), rule by rule: the 1.0 layout (4 more bytes) when the response
 * header says minor 0. Pass the minor version the request was sent with: a 1.1 QGS answers a minor-0 request
 * in the 1.0 layout under a minor-1 header, which Intel's 1.1 parser refuses and this one then reads. A
 * well-formed error response is returned (errorCode != 0), not thrown; {@link collateralFromResponse} turns
 * it into the remote error.
 */
export function decodeGetCollateralResponse(
  bytes: Uint8Array,
  opts: { requestMinorVersion?: number } = {},
): GetCollateralResponse {
  const header = checkQgsMessage(
    bytes,
    QGS_GET_COLLATERAL_RESP_FIXED_SIZE,
    QgsMsgType.GET_COLLATERAL_RESP,
    "GET_COLLATERAL_RESP",
  );
  const v = view(bytes);
  const sizes = COLLATERAL_PARTS.map((_, i) => v.getUint32(20 + 4 * i, true));
  const sum = sizes.reduce((n, s) => n + s, 0);
  const v10 = QGS_GET_COLLATERAL_RESP_FIXED_SIZE + V1_0_SLACK + sum;
  const expected =
    header.minorVersion === 0 || (opts.requestMinorVersion === 0 && header.size === v10)
      ? v10
      : QGS_GET_COLLATERAL_RESP_FIXED_SIZE + sum;
  if (expected >= UINT32_MAX)
    throw qgsError(QgsErrorCode.UNEXPECTED, "GET_COLLATERAL_RESP sizes overflow 32 bits", { offset: 20 });
  if (expected !== header.size)
    throw qgsError(
      QgsErrorCode.INVALID_SIZE,
      `GET_COLLATERAL_RESP sizes add up to ${expected} bytes, header.size is ${header.size}`,
      { field: "qe_identity_size", offset: 44 },
    );
  if (header.errorCode === 0) {
    const empty = sizes.indexOf(0);
    if (empty >= 0) {
      const name = COLLATERAL_PARTS[empty]![1];
      throw qgsError(QgsErrorCode.INVALID_SIZE, `successful GET_COLLATERAL_RESP has an empty ${name}`, {
        field: `${name}_size`,
        offset: 20 + 4 * empty,
      });
    }
    let at = QGS_GET_COLLATERAL_RESP_FIXED_SIZE;
    const part = (i: number) => {
      const p = bytes.subarray(at, at + sizes[i]!);
      at += sizes[i]!;
      return p;
    };
    return {
      header,
      errorCode: 0,
      collateral: {
        majorVersion: v.getUint16(16, true),
        minorVersion: v.getUint16(18, true),
        pckCrlIssuerChain: part(0),
        rootCaCrl: part(1),
        pckCrl: part(2),
        tcbInfoIssuerChain: part(3),
        tcbInfo: part(4),
        qeIdentityIssuerChain: part(5),
        qeIdentity: part(6),
      },
    };
  }
  if (header.errorCode < QGS_ERROR_MAX) {
    const carried = sizes.findIndex((s) => s !== 0);
    if (carried >= 0)
      throw qgsError(QgsErrorCode.INVALID_SIZE, "error GET_COLLATERAL_RESP carries a payload", {
        field: `${COLLATERAL_PARTS[carried]![1]}_size`,
        offset: 20 + 4 * carried,
      });
    return { header, errorCode: header.errorCode, collateral: null };
  }
  throw qgsError(
    QgsErrorCode.INVALID_CODE,
    `GET_COLLATERAL_RESP error_code 0x${header.errorCode.toString(16)} is outside Intel's enumeration`,
    { field: "header.error_code", offset: 12 },
  );
}

/** The parts of a decoded response, or the remote QGS error mapped to a TdxError. */
export function collateralFromResponse(resp: GetCollateralResponse): QgsCollateralParts {
  if (resp.errorCode !== 0 || resp.collateral === null)
    throw remoteQgsError(resp.errorCode || QgsErrorCode.UNEXPECTED, "GET_COLLATERAL");
  return resp.collateral;
}

/** FMSPC as 12 hex digits → 6 bytes (case-insensitive); a TdxError with a hint otherwise. */
export function parseFmspc(hex: string): Uint8Array {
  const h = hex.trim();
  if (!/^[0-9a-fA-F]{12}$/.test(h))
    throw new TdxError("QGS_BAD_FMSPC", `FMSPC "${hex}" is not 12 hex digits`, {
      field: "fmspc",
      hint: "give the 12-hex-digit FMSPC of the platform's PCK certificate (the simulated platform's is 90C06F000000)",
    });
  const out = new Uint8Array(6);
  for (let i = 0; i < 6; i++) out[i] = Number.parseInt(h.slice(2 * i, 2 * i + 2), 16);
  return out;
}
