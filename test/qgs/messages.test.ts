/**
 * GET_COLLATERAL and GET_PLATFORM_INFO byte for byte. The expected bytes are packed here field by field from
 * Intel's struct layouts, not produced by our encoders:
 *   qgs_msg_lib.h   intel/confidential-computing.tee.dcap 806c50e QuoteGeneration/quote_wrapper/qgs_msg_lib/inc/
 *   qgs_msg_lib.cpp intel/confidential-computing.tee.dcap b4bb581 (protocol 1.1) and
 *                   intel/SGXDataCenterAttestationPrimitives 71557c7 (protocol 1.0) QuoteGeneration/quote_wrapper/
 *                   qgs_msg_lib/qgs_msg_lib.cpp
 *   tdx_verify.c    intel/confidential-computing.tee.dcap 806c50e QuoteGeneration/quote_wrapper/tdx_verify/
 *                   (tdx_att_get_collateral: the PCK CA is sent with its NUL, strlen + 1 bytes)
 */
import { describe, expect, it } from "vitest";
import {
  collateralFromResponse,
  decodeGetCollateralRequest,
  decodeGetCollateralResponse,
  decodeGetPlatformInfoRequest,
  decodeGetPlatformInfoResponse,
  encodeErrorResponse,
  encodeGetCollateralRequest,
  encodeGetCollateralResponse,
  encodeGetPlatformInfoRequest,
  encodeGetPlatformInfoResponse,
  parseFmspc,
  pckCaNameOf,
  platformInfoFromResponse,
  type QgsCollateralParts,
  QgsErrorCode,
  QgsMsgType,
  qgsMessageType,
} from "../../src/qgs/index.js";
import { tdxErrorOf } from "../helpers/errors.js";

type Field = ["u16" | "u32", number] | ["bytes", Uint8Array | string];

/** Packs fields little-endian with no padding (`#pragma pack(push, 1)` in qgs_msg_lib.h). */
function pack(...fields: Field[]): Uint8Array {
  const out: number[] = [];
  for (const f of fields) {
    if (f[0] === "bytes") out.push(...(typeof f[1] === "string" ? new TextEncoder().encode(f[1]) : f[1]));
    else {
      const n = f[0] === "u16" ? 2 : 4;
      for (let i = 0; i < n; i++) out.push((f[1] >>> (8 * i)) & 0xff);
    }
  }
  return Uint8Array.from(out);
}

/** qgs_msg_header_t: major_version u16, minor_version u16, type u32, size u32, error_code u32. */
const header = (type: number, size: number, errorCode = 0, minor = 1): Field[] => [
  ["u16", 1],
  ["u16", minor],
  ["u32", type],
  ["u32", size],
  ["u32", errorCode],
];

const FMSPC = Uint8Array.from([0x90, 0xc0, 0x6f, 0x00, 0x00, 0x00]);
const codeOf = (f: () => unknown) => tdxErrorOf(f).code;

/** Seven distinct NUL-terminated parts, as a QPL returns them. */
function sampleParts(): QgsCollateralParts {
  const t = (s: string) => new TextEncoder().encode(`${s}\0`);
  return {
    majorVersion: 4,
    minorVersion: 0,
    pckCrlIssuerChain: t("-----BEGIN CERTIFICATE-----pck-ca"),
    rootCaCrl: Uint8Array.from([0x30, 0x82, 0x01, 0x00, 0]),
    pckCrl: Uint8Array.from([0x30, 0x81, 0x7f, 0]),
    tcbInfoIssuerChain: t("-----BEGIN CERTIFICATE-----tcb"),
    tcbInfo: t('{"tcbInfo":{},"signature":"00"}'),
    qeIdentityIssuerChain: t("-----BEGIN CERTIFICATE-----qe"),
    qeIdentity: t('{"enclaveIdentity":{},"signature":"00"}'),
  };
}
const ORDER = [
  "pckCrlIssuerChain",
  "rootCaCrl",
  "pckCrl",
  "tcbInfoIssuerChain",
  "tcbInfo",
  "qeIdentityIssuerChain",
  "qeIdentity",
] as const;

describe("GET_COLLATERAL_REQ (type 2)", () => {
  it('is what qgs_msg_gen_get_collateral_req builds for tdx_att_get_collateral(fmspc, 6, "platform")', () => {
    // qgs_msg_get_collateral_req_t: header, fsmpc_size, pckca_size, fmspc || pckca; size 24 + 6 + 9.
    const intel = pack(...header(2, 39), ["u32", 6], ["u32", 9], ["bytes", FMSPC], ["bytes", "platform\0"]);
    expect(encodeGetCollateralRequest(FMSPC, "platform")).toEqual(intel);
    const back = decodeGetCollateralRequest(intel);
    expect(back.fmspc).toEqual(FMSPC);
    expect(pckCaNameOf(back.pckCa)).toBe("platform");
    expect(qgsMessageType(intel)).toBe(QgsMsgType.GET_COLLATERAL_REQ);
  });

  it("refuses what qgs_msg_inflate_get_collateral_req refuses, with its codes", () => {
    const good = encodeGetCollateralRequest(FMSPC, "processor");
    const mutate = (f: (dv: DataView) => void) => {
      const b = good.slice();
      f(new DataView(b.buffer));
      return b;
    };
    expect(codeOf(() => decodeGetCollateralRequest(good.subarray(0, 23)))).toBe("QGS_INVALID_PARAMETER");
    expect(codeOf(() => decodeGetCollateralRequest(mutate((dv) => dv.setUint16(0, 2, true))))).toBe(
      "QGS_INVALID_VERSION",
    );
    expect(codeOf(() => decodeGetCollateralRequest(mutate((dv) => dv.setUint32(4, 0, true))))).toBe(
      "QGS_INVALID_TYPE",
    );
    expect(codeOf(() => decodeGetCollateralRequest(mutate((dv) => dv.setUint32(8, 41, true))))).toBe(
      "QGS_INVALID_SIZE",
    );
    expect(codeOf(() => decodeGetCollateralRequest(mutate((dv) => dv.setUint32(12, 1, true))))).toBe(
      "QGS_INVALID_CODE",
    );
    // an empty FMSPC or PCK CA is INVALID_SIZE, sizes that do not add up too
    expect(codeOf(() => decodeGetCollateralRequest(mutate((dv) => dv.setUint32(16, 0, true))))).toBe(
      "QGS_INVALID_SIZE",
    );
    expect(codeOf(() => decodeGetCollateralRequest(mutate((dv) => dv.setUint32(20, 9, true))))).toBe(
      "QGS_INVALID_SIZE",
    );
    // the minor version is not checked
    expect(decodeGetCollateralRequest(mutate((dv) => dv.setUint16(2, 0, true))).fmspc).toEqual(FMSPC);
    // the generator refuses empty parts, as Intel's does
    expect(codeOf(() => encodeGetCollateralRequest(new Uint8Array(0), "platform"))).toBe(
      "QGS_INVALID_PARAMETER",
    );
  });

  it("reads the PCK CA as the QPL does: platform or processor, with or without its NUL", () => {
    const b = (s: string) => new TextEncoder().encode(s);
    expect(pckCaNameOf(b("processor\0"))).toBe("processor");
    expect(pckCaNameOf(b("platform"))).toBe("platform");
    for (const bad of ["Platform\0", "platform\0\0", "plat\0form", "", "\0", "processors\0"])
      expect(pckCaNameOf(b(bad))).toBeNull();
  });

  it("parses FMSPC hex and refuses anything else with a hint", () => {
    expect(parseFmspc("90c06F000000")).toEqual(FMSPC);
    const e = tdxErrorOf(() => parseFmspc("90C06F"));
    expect([e.code, e.field]).toEqual(["QGS_BAD_FMSPC", "fmspc"]);
    expect(e.hint).toMatch(/12-hex-digit/);
  });
});

describe("GET_COLLATERAL_RESP (type 3)", () => {
  it("is what qgs_msg_gen_get_collateral_resp builds for a protocol 1.1 request: 48-byte fixed part", () => {
    const p = sampleParts();
    const sizes = ORDER.map((k) => p[k].length);
    const total = 48 + sizes.reduce((a, b) => a + b, 0);
    const intel = pack(
      ...header(3, total),
      ["u16", 4],
      ["u16", 0],
      ...sizes.map((s): Field => ["u32", s]),
      ...ORDER.map((k): Field => ["bytes", p[k]]),
    );
    expect(encodeGetCollateralResponse(p)).toEqual(intel);
    const back = collateralFromResponse(decodeGetCollateralResponse(intel));
    for (const k of ORDER) expect(back[k]).toEqual(p[k]);
    expect([back.majorVersion, back.minorVersion]).toEqual([4, 0]);
  });

  it("answers a minor-0 request in the 1.0 layout: 4 zero bytes after the parts, header minor 1", () => {
    const p = sampleParts();
    const sizes = ORDER.map((k) => p[k].length);
    const total = 52 + sizes.reduce((a, b) => a + b, 0);
    const intel = pack(
      ...header(3, total),
      ["u16", 4],
      ["u16", 0],
      ...sizes.map((s): Field => ["u32", s]),
      ...ORDER.map((k): Field => ["bytes", p[k]]),
      ["u32", 0],
    );
    expect(encodeGetCollateralResponse(p, { requestMinorVersion: 0 })).toEqual(intel);
    // Intel's 1.1 inflate judges the layout by the response header (minor 1): it refuses this answer...
    expect(codeOf(() => decodeGetCollateralResponse(intel))).toBe("QGS_INVALID_SIZE");
    // ...which a client that sent minor 0 can still read
    expect(decodeGetCollateralResponse(intel, { requestMinorVersion: 0 }).collateral?.qeIdentity).toEqual(
      p.qeIdentity,
    );
    // a protocol 1.0 QGS says minor 0 in the header, and 1.1's inflate then expects the 1.0 layout
    const v10 = intel.slice();
    new DataView(v10.buffer).setUint16(2, 0, true);
    expect(decodeGetCollateralResponse(v10).collateral?.tcbInfo).toEqual(p.tcbInfo);
  });

  it("error reply is qgs_msg_gen_error_resp(code, GET_COLLATERAL_RESP): 48 bytes, all sizes 0", () => {
    const intel = pack(...header(3, 48, 0x12001), ["bytes", new Uint8Array(32)]);
    expect(encodeErrorResponse(QgsErrorCode.UNEXPECTED, QgsMsgType.GET_COLLATERAL_RESP)).toEqual(intel);
    const resp = decodeGetCollateralResponse(intel);
    expect([resp.errorCode, resp.collateral]).toEqual([0x12001, null]);
    const e = tdxErrorOf(() => collateralFromResponse(resp));
    expect([e.code, e.data?.remote]).toEqual(["QGS_UNEXPECTED", true]);
  });

  it("refuses what qgs_msg_inflate_get_collateral_resp refuses", () => {
    const good = encodeGetCollateralResponse(sampleParts());
    const mutate = (f: (dv: DataView) => void) => {
      const b = good.slice();
      f(new DataView(b.buffer));
      return b;
    };
    expect(codeOf(() => decodeGetCollateralResponse(good.subarray(0, 47)))).toBe("QGS_INVALID_PARAMETER");
    expect(codeOf(() => decodeGetCollateralResponse(mutate((dv) => dv.setUint32(4, 1, true))))).toBe(
      "QGS_INVALID_TYPE",
    );
    // a part size that does not add up
    expect(codeOf(() => decodeGetCollateralResponse(mutate((dv) => dv.setUint32(28, 3, true))))).toBe(
      "QGS_INVALID_SIZE",
    );
    // success with an empty part: move qe_identity's bytes into qe_identity_issuer_chain's size
    const empty = mutate((dv) => {
      dv.setUint32(40, dv.getUint32(40, true) + dv.getUint32(44, true), true);
      dv.setUint32(44, 0, true);
    });
    expect(tdxErrorOf(() => decodeGetCollateralResponse(empty)).field).toBe("qe_identity_size");
    // an error code with a payload, and codes beyond Intel's enumeration
    expect(codeOf(() => decodeGetCollateralResponse(mutate((dv) => dv.setUint32(12, 0x12003, true))))).toBe(
      "QGS_INVALID_SIZE",
    );
    const err = encodeErrorResponse(QgsErrorCode.UNEXPECTED, QgsMsgType.GET_COLLATERAL_RESP);
    new DataView(err.buffer).setUint32(12, 0x12008, true);
    expect(codeOf(() => decodeGetCollateralResponse(err))).toBe("QGS_INVALID_CODE");
    // the generator refuses empty parts (INVALID_PARAMETER, as Intel's)
    expect(codeOf(() => encodeGetCollateralResponse({ ...sampleParts(), pckCrl: new Uint8Array(0) }))).toBe(
      "QGS_INVALID_PARAMETER",
    );
  });
});

describe("GET_PLATFORM_INFO (types 4 and 5)", () => {
  it("request is qgs_msg_gen_get_platform_info_req: a bare 16-byte header", () => {
    const intel = pack(...header(4, 16));
    expect(encodeGetPlatformInfoRequest()).toEqual(intel);
    expect(decodeGetPlatformInfoRequest(intel).type).toBe(4);
    const withCode = pack(...header(4, 16, 7));
    expect(codeOf(() => decodeGetPlatformInfoRequest(withCode))).toBe("QGS_INVALID_CODE");
    const trailing = pack(...header(4, 16), ["u32", 0]);
    expect(codeOf(() => decodeGetPlatformInfoRequest(trailing))).toBe("QGS_INVALID_SIZE");
  });

  it("response is what qgs_msg_gen_get_platform_info_resp builds: 32 + parts, the ISVSVNs counted twice", () => {
    const platformId = Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i);
    const cpuSvn = Uint8Array.from({ length: 16 }, (_, i) => i);
    const intel = pack(
      ...header(5, 64),
      ["u16", 7],
      ["u16", 13],
      ["u32", 16],
      ["u32", 16],
      ["bytes", platformId],
      ["bytes", cpuSvn],
      ["u32", 0],
    );
    const info = { tdqeIsvSvn: 7, pceIsvSvn: 13, platformId, cpuSvn };
    expect(encodeGetPlatformInfoResponse(info)).toEqual(intel);
    expect(platformInfoFromResponse(decodeGetPlatformInfoResponse(intel))).toEqual(info);
    // without the 4 slack bytes Intel's inflate finds the sizes do not add up
    const exact = pack(...header(5, 60), ["bytes", intel.subarray(16, 60)]);
    expect(codeOf(() => decodeGetPlatformInfoResponse(exact))).toBe("QGS_INVALID_SIZE");
  });

  it("reads Intel's QGS error reply (qgs_msg_gen_error_resp: 28 bytes) and the 32-byte form", () => {
    const intelQgs = pack(...header(5, 28, 0x12001), ["bytes", new Uint8Array(12)]);
    expect(encodeErrorResponse(QgsErrorCode.UNEXPECTED, QgsMsgType.GET_PLATFORM_INFO_RESP)).toEqual(intelQgs);
    const parserForm = pack(...header(5, 32, 0x12001), ["bytes", new Uint8Array(16)]);
    for (const bytes of [intelQgs, parserForm]) {
      const resp = decodeGetPlatformInfoResponse(bytes);
      expect([resp.errorCode, resp.info]).toEqual([0x12001, null]);
      expect(tdxErrorOf(() => platformInfoFromResponse(resp)).code).toBe("QGS_UNEXPECTED");
    }
    // a 28-byte message that says success is still refused
    const shortOk = pack(...header(5, 28), ["u16", 1], ["u16", 1], ["u32", 0], ["u32", 0]);
    expect(codeOf(() => decodeGetPlatformInfoResponse(shortOk))).toBe("QGS_INVALID_SIZE");
    expect(codeOf(() => decodeGetPlatformInfoResponse(intelQgs.subarray(0, 27)))).toBe(
      "QGS_INVALID_PARAMETER",
    );
  });
});

describe("message types", () => {
  it("follows Intel's current enumeration: GET_QUOTE_MIG_REQ is 6, type 7 and beyond are unknown", () => {
    expect(qgsMessageType(pack(...header(6, 16)))).toBe(QgsMsgType.GET_QUOTE_MIG_REQ);
    expect(codeOf(() => qgsMessageType(pack(...header(7, 16))))).toBe("QGS_INVALID_VERSION");
    expect(codeOf(() => encodeErrorResponse(QgsErrorCode.UNEXPECTED, QgsMsgType.GET_QUOTE_REQ))).toBe(
      "QGS_INVALID_TYPE",
    );
  });
});
