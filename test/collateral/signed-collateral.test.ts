import { describe, expect, it } from "vitest";
import { parseQeIdentity, readSignedQeIdentity } from "../../src/collateral/qe-identity.js";
import { qvlDate } from "../../src/collateral/qvl-fields.js";
import { parseTcbInfo, readSignedTcbInfo } from "../../src/collateral/tcb-info.js";
import { qeIdentityText, tcbInfoText } from "../../src/sim/collateral.js";
import { collateralSpecFor } from "../../src/sim/scenarios.js";

/**
 * The TCB Info / QE Identity models against QVL's parser rules (AttestationParsers Json/TcbInfo.cpp,
 * TcbLevel.cpp, TcbComponent.cpp, TdxModule*.cpp; AttestationLibrary Verifiers/EnclaveIdentityV2.cpp,
 * TcbStatus.h; Utils/TimeUtils.cpp). Each case: a text from the simulator, one change, QVL's verdict.
 */

const issue = new Date("2026-01-01T00:00:00Z");
const next = new Date("2026-01-31T00:00:00Z");
const TCB = tcbInfoText(collateralSpecFor("up-to-date"), issue, next);
const QE = qeIdentityText(collateralSpecFor("up-to-date"), issue, next);
type Obj = Record<string, unknown> & { tcbLevels: Record<string, unknown>[] };
const tcb = (): Obj => JSON.parse(TCB);
const qe = (): Obj => JSON.parse(QE);
const malformed = (code: string) => expect.objectContaining({ code });

describe("QVL's date grammar (TimeUtils.cpp isValidTimeString: regex, then get_time, then mktime)", () => {
  it("accepts exactly YYYY-MM-DDThh:mm:ssZ", () => {
    expect(qvlDate("2024-03-13T00:00:00Z")?.seconds).toBe(Date.UTC(2024, 2, 13) / 1000);
    for (const bad of [
      "not-a-date",
      "20241113",
      "2024-03-13",
      "2024-03-13T00:00:00.000Z",
      "2024-03-13T00:00:00+00:00",
      "2024-03-13T00:00:00",
      "2024-13-01T00:00:00Z",
      "2024-00-01T00:00:00Z",
      "2024-01-32T00:00:00Z",
      "2024-01-01T24:00:00Z",
      "2024-01-01T00:60:00Z",
      "2024-01-01T00:00:61Z",
      " 2024-01-01T00:00:00Z",
    ]) {
      expect(qvlDate(bad), bad).toBeNull();
    }
  });
  // QVL AttestationCommons/src/Utils/TimeUtils.cpp isValidTimeString: the fields must survive mktime.
  it("refuses a date mktime would change: a day past the month's end, a leap second", () => {
    for (const bad of [
      "2024-02-30T00:00:00Z",
      "2023-02-29T00:00:00Z",
      "2017-06-31T11:10:45Z",
      "2024-04-31T00:00:00Z",
      "2024-01-01T00:00:60Z",
    ])
      expect(qvlDate(bad), bad).toBeNull();
    expect(qvlDate("2024-02-29T23:59:59Z")?.seconds).toBe(Date.UTC(2024, 1, 29, 23, 59, 59) / 1000);
    expect(qvlDate("2024-12-31T00:00:00Z")?.seconds).toBe(Date.UTC(2024, 11, 31) / 1000);
  });
});

describe("TCB Info as QVL's parser reads it", () => {
  it("reads the simulator's text, whose signed message is the text itself", () => {
    const r = readSignedTcbInfo(TCB);
    expect(r.signedMessage).toBe(TCB);
    expect(r.value.tcbLevels.length).toBeGreaterThan(0);
  });

  it("signs QVL's compact re-serialisation, not the text as formatted", () => {
    const pretty = JSON.stringify(JSON.parse(TCB), null, 2);
    expect(readSignedTcbInfo(pretty).signedMessage).toBe(TCB);
  });

  it("takes the first of duplicate members (rapidjson), and keeps both in the signed message", () => {
    // The platform levels come last in the text (after tdxModuleIdentities).
    const at = TCB.lastIndexOf('"tcbLevels":');
    const t =
      TCB.slice(0, at) +
      TCB.slice(at).replace('"tcbStatus":"UpToDate"', '"tcbStatus":"Revoked","tcbStatus":"UpToDate"');
    const r = readSignedTcbInfo(t);
    expect(r.value.tcbLevels.some((l) => l.tcbStatus === "Revoked")).toBe(true);
    expect(r.signedMessage).toBe(t);
    const f = TCB.replace('"fmspc":"', '"fmspc":"00906ED50000","fmspc":"');
    expect(parseTcbInfo(f).fmspc).toBe("00906ed50000");
  });

  it("validates every tcbDate (TcbLevel.cpp parseTcbLevelCommon, TdxModuleTcbLevel.cpp)", () => {
    for (const bad of ["not-a-date", "20241113", "2024-03-13T00:00:00.5Z"]) {
      const o = tcb();
      o.tcbLevels[1]!.tcbDate = bad;
      expect(() => parseTcbInfo(JSON.stringify(o)), bad).toThrowError(malformed("TCB_INFO_MALFORMED"));
      const m = tcb();
      (m.tdxModuleIdentities as Obj[])[0]!.tcbLevels[0]!.tcbDate = bad;
      expect(() => parseTcbInfo(JSON.stringify(m)), bad).toThrowError(malformed("TCB_INFO_MALFORMED"));
    }
    for (const field of ["issueDate", "nextUpdate"]) {
      const o = tcb();
      o[field] = "2026-01-01T00:00:00.000Z";
      expect(() => parseTcbInfo(JSON.stringify(o)), field).toThrowError(malformed("TCB_INFO_MALFORMED"));
    }
  });

  it("refuses an unknown level status when parsing (TcbLevel::parseStatus), used or not", () => {
    const o = tcb();
    o.tcbLevels.at(-1)!.tcbStatus = "Compromised";
    expect(() => parseTcbInfo(JSON.stringify(o))).toThrowError(malformed("TCB_INFO_MALFORMED"));
  });

  it("takes integers as rapidjson's IsUint/IsInt do", () => {
    const bad = (mut: (o: Obj) => void) => {
      const o = tcb();
      mut(o);
      return () => parseTcbInfo(JSON.stringify(o).replace(/"@(-?[\d.e]+)"/g, "$1"));
    };
    expect(bad((o) => (o.tcbEvaluationDataNumber = "@18.0"))).toThrowError(malformed("TCB_INFO_MALFORMED"));
    expect(bad((o) => (o.tcbEvaluationDataNumber = "@4294967296"))).toThrowError(
      malformed("TCB_INFO_MALFORMED"),
    );
    expect(bad((o) => (o.version = "@3.0"))).toThrowError(malformed("TCB_INFO_MALFORMED"));
    // pcesvn is a uint32 for QVL (not 16 bits); component SVNs are uint32 read into uint8_t.
    const wide = tcb();
    const lvl = wide.tcbLevels[0]!.tcb as { pcesvn: number; sgxtcbcomponents: { svn: number }[] };
    lvl.pcesvn = 70000;
    lvl.sgxtcbcomponents[0]!.svn = 258;
    const parsed = parseTcbInfo(JSON.stringify(wide));
    expect(parsed.tcbLevels.some((l) => l.pceSvn === 70000 && l.sgxComponents[0] === 2)).toBe(true);
  });

  it("takes module isvsvn up to 65535 (TdxModuleTcb.cpp) and refuses beyond", () => {
    const o = tcb();
    const lv = (o.tdxModuleIdentities as Obj[])[0]!.tcbLevels[0]!.tcb as { isvsvn: number };
    lv.isvsvn = 65535;
    expect(parseTcbInfo(JSON.stringify(o)).tdxModuleIdentities![0]!.tcbLevels[0]!.isvSvn).toBe(65535);
    lv.isvsvn = 65536;
    expect(() => parseTcbInfo(JSON.stringify(o))).toThrowError(malformed("TCB_INFO_MALFORMED"));
  });

  it("needs string category/type when present (TcbComponent.cpp)", () => {
    const o = tcb();
    (o.tcbLevels[0]!.tcb as { sgxtcbcomponents: Record<string, unknown>[] }).sgxtcbcomponents[0]!.category =
      5;
    expect(() => parseTcbInfo(JSON.stringify(o))).toThrowError(malformed("TCB_INFO_MALFORMED"));
  });

  it("refuses tdxModule in SGX v3 TCB Info only (parsePartV3 runs for v3)", () => {
    const o = tcb();
    o.id = "SGX";
    for (const l of o.tcbLevels) delete (l.tcb as Record<string, unknown>).tdxtcbcomponents;
    delete o.tdxModuleIdentities;
    expect(() => parseTcbInfo(JSON.stringify(o))).toThrowError(malformed("TCB_INFO_MALFORMED"));
    delete o.tdxModule;
    expect(parseTcbInfo(JSON.stringify(o)).id).toBe("SGX");
  });

  it("a string's value ends at U+0000, as std::string built from GetString()", () => {
    const t = TCB.replace('"tcbStatus":"UpToDate"', '"tcbStatus":"UpToDate\\u0000Revoked"');
    expect(parseTcbInfo(t).tcbLevels.some((l) => l.tcbStatus === "UpToDate")).toBe(true);
  });
});

describe("QE Identity as QVL's enclave identity parser reads it", () => {
  it("knows five TCB statuses: not SWHardeningNeeded (TcbStatus.h parseStringToTcbStatus)", () => {
    for (const s of [
      "UpToDate",
      "ConfigurationNeeded",
      "OutOfDate",
      "OutOfDateConfigurationNeeded",
      "Revoked",
    ]) {
      const o = qe();
      o.tcbLevels[0]!.tcbStatus = s;
      expect(parseQeIdentity(JSON.stringify(o)).tcbLevels[0]!.tcbStatus).toBe(s);
    }
    for (const s of ["SWHardeningNeeded", "ConfigurationAndSWHardeningNeeded", "upToDate"]) {
      const o = qe();
      o.tcbLevels[0]!.tcbStatus = s;
      expect(() => parseQeIdentity(JSON.stringify(o)), s).toThrowError(malformed("QE_IDENTITY_MALFORMED"));
    }
  });

  it("does not read the levels' advisoryIDs (QVL ignores them)", () => {
    const o = qe();
    o.tcbLevels[0]!.advisoryIDs = 7;
    expect(parseQeIdentity(JSON.stringify(o)).tcbLevels[0]!.advisoryIds).toEqual([]);
  });

  it("takes uint32 isvprodid and isvsvn (getUintFieldOf), a version via IsInt", () => {
    const o = qe();
    o.isvprodid = 70000;
    (o.tcbLevels[0]!.tcb as { isvsvn: number }).isvsvn = 70000;
    const r = parseQeIdentity(JSON.stringify(o));
    expect([r.isvProdId, r.tcbLevels[0]!.isvSvn]).toEqual([70000, 70000]);
    const v = qe();
    v.version = 3;
    expect(() => parseQeIdentity(JSON.stringify(v))).toThrowError(
      malformed("QE_IDENTITY_UNSUPPORTED_VERSION"),
    );
  });

  it("first of duplicate members; the signed message keeps both", () => {
    const t = QE.replace('"isvprodid":2', '"isvprodid":1,"isvprodid":2');
    const r = readSignedQeIdentity(t);
    expect(r.value.isvProdId).toBe(1);
    expect(r.signedMessage).toBe(t);
  });

  it("validates tcbDate, issueDate, nextUpdate with QVL's grammar", () => {
    const o = qe();
    o.tcbLevels[0]!.tcbDate = "2024-03-13";
    expect(() => parseQeIdentity(JSON.stringify(o))).toThrowError(malformed("QE_IDENTITY_MALFORMED"));
  });
});
