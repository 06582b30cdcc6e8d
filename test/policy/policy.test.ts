import { describe, expect, it } from "vitest";
import { parseQuote, TD_ATTRIBUTE_BITS, toHex } from "../../src/abi/index.js";
import type { QuoteBody, TdReportBody } from "../../src/abi/types.js";
import { TdxError } from "../../src/errors.js";
import {
  ALLOW_LIST_RULES,
  type AppraisalInput,
  appraise,
  assertAllowed,
  DEFAULT_POLICY,
  POLICY_JSON_SCHEMA,
  type Policy,
  policyFromJson,
  readPolicy,
} from "../../src/policy/index.js";
import type { VerificationResult } from "../../src/verify/result.js";
import { tdxErrorOf } from "../helpers/errors.js";
import { loadCases, VECTORS_SKIP_REASON, vectorsDir } from "../helpers/vectors.js";

const fill = (n: number, b: number) => new Uint8Array(n).fill(b);

function tdBody(over: Partial<TdReportBody> = {}): QuoteBody {
  const report: TdReportBody = {
    teeTcbSvn: Uint8Array.from([5, 1, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
    mrSeam: fill(48, 0x11),
    mrSignerSeam: fill(48, 0),
    seamAttributes: fill(8, 0),
    tdAttributes: Uint8Array.from([0, 0, 0, 0x10, 0, 0, 0, 0]), // SEPT_VE_DISABLE
    xfam: Uint8Array.from([0xe7, 0x02, 0x06, 0, 0, 0, 0, 0]),
    mrTd: fill(48, 0xa1),
    mrConfigId: fill(48, 0xa2),
    mrOwner: fill(48, 0xa3),
    mrOwnerConfig: fill(48, 0xa4),
    rtmr: [fill(48, 0xb0), fill(48, 0xb1), fill(48, 0xb2), fill(48, 0xb3)],
    reportData: fill(64, 0xcc),
    ...over,
  };
  return { type: 2, kind: "td10", report };
}

function sgxBody(debug: boolean): QuoteBody {
  const attributes = fill(16, 0);
  attributes[0] = debug ? 0x07 : 0x05;
  return {
    type: 1,
    kind: "sgx",
    report: {
      cpuSvn: fill(16, 0),
      miscSelect: 0,
      reserved1: fill(28, 0),
      attributes,
      mrEnclave: fill(32, 1),
      reserved2: fill(32, 0),
      mrSigner: fill(32, 2),
      reserved3: fill(96, 0),
      isvProdId: 0,
      isvSvn: 0,
      reserved4: fill(60, 0),
      reportData: fill(64, 0),
    },
  };
}

function input(over: Partial<AppraisalInput> = {}, body: QuoteBody = tdBody()): AppraisalInput {
  return {
    ok: true,
    tcbStatus: "UpToDate",
    advisoryIds: [],
    collateralExpired: false,
    matchedTcbLevel: { tcbDate: "2024-03-13T00:00:00Z" },
    collateralIssuedAt: "2025-06-19T10:16:03Z",
    quote: { body },
    ...over,
  };
}

const rulesDenied = (a: ReturnType<typeof appraise>) => a.denials.map((d) => d.rule);

describe("policy defaults", () => {
  it("allow an UpToDate, non-debug TD with fresh collateral", () => {
    const a = appraise(input());
    expect(a.allowed).toBe(true);
    expect(a.denials).toEqual([]);
    expect(a.evaluated.map((o) => o.rule)).toEqual([
      "verified",
      "acceptedTcbStatuses",
      "collateralExpired",
      "forbiddenTdAttributes",
    ]);
  });

  it("accept UpToDate only", () => {
    for (const status of ["SWHardeningNeeded", "OutOfDate", "ConfigurationNeeded", "Revoked", null]) {
      const a = appraise(input({ tcbStatus: status }));
      expect(a.allowed).toBe(false);
      expect(a.denials).toEqual([
        {
          rule: "acceptedTcbStatuses",
          expected: ["UpToDate"],
          actual: status,
          message: expect.stringContaining("is not one of UpToDate"),
        },
      ]);
    }
  });

  it("forbid DEBUG TDs and debug SGX enclaves", () => {
    const debugTd = tdBody({ tdAttributes: Uint8Array.from([1, 0, 0, 0x10, 0, 0, 0, 0]) });
    const a = appraise(input({}, debugTd));
    expect(a.allowed).toBe(false);
    expect(a.denials[0]).toMatchObject({
      rule: "forbiddenTdAttributes",
      expected: ["DEBUG"],
      actual: ["DEBUG", "SEPT_VE_DISABLE"],
    });
    expect(a.denials[0]?.message).toMatch(/DEBUG/);
    expect(appraise(input({}, sgxBody(true))).denials.map((d) => d.rule)).toEqual(["forbiddenTdAttributes"]);
    expect(appraise(input({}, sgxBody(false))).allowed).toBe(true);
    // An empty policy object means the defaults.
    expect(readPolicy("{}")).toEqual(DEFAULT_POLICY);
    expect(appraise(input({}, debugTd), readPolicy("{}")).allowed).toBe(false);
    // Listing other forbidden attributes keeps DEBUG forbidden.
    const p = readPolicy('{"forbiddenTdAttributes":["PERFMON"]}');
    expect(p.forbiddenTdAttributes).toEqual(["DEBUG", "PERFMON"]);
    expect(appraise(input({}, debugTd), p).allowed).toBe(false);
    // Only allowDebug lets a debug TD through.
    expect(appraise(input({}, debugTd), readPolicy('{"allowDebug":true}')).allowed).toBe(true);
    // A Policy built by hand (not through readPolicy) keeps DEBUG forbidden unless allowDebug is true.
    const byHand = { ...DEFAULT_POLICY, forbiddenTdAttributes: ["KL"] };
    const refused = appraise(input({}, debugTd), byHand);
    expect(refused.allowed).toBe(false);
    expect(refused.denials[0]).toMatchObject({ rule: "forbiddenTdAttributes", expected: ["DEBUG", "KL"] });
    expect(appraise(input({}, debugTd), { ...byHand, allowDebug: true }).allowed).toBe(true);
  });

  it("refuse expired collateral and unverified quotes", () => {
    const expired = appraise(input({ collateralExpired: true }));
    expect(expired.denials).toEqual([
      { rule: "collateralExpired", expected: false, actual: true, message: expect.any(String) },
    ]);
    expect(
      appraise(input({ collateralExpired: true }), readPolicy('{"allowExpiredCollateral":true}')).allowed,
    ).toBe(true);
    const bad = appraise(
      input({ ok: false, tcbStatus: null }),
      readPolicy('{"allowExpiredCollateral":true}'),
    );
    expect(rulesDenied(bad)).toEqual(["verified", "acceptedTcbStatuses"]);
  });
});

describe("policy rules: each allows and denies", () => {
  it("acceptedTcbStatuses", () => {
    const p = readPolicy('{"acceptedTcbStatuses":["UpToDate","SWHardeningNeeded"]}');
    expect(appraise(input({ tcbStatus: "SWHardeningNeeded" }), p).allowed).toBe(true);
    const a = appraise(input({ tcbStatus: "OutOfDate" }), p);
    expect(a.denials).toEqual([
      {
        rule: "acceptedTcbStatuses",
        expected: ["UpToDate", "SWHardeningNeeded"],
        actual: "OutOfDate",
        message: expect.any(String),
      },
    ]);
  });

  it("allowedAdvisoryIds", () => {
    const p = readPolicy('{"allowedAdvisoryIds":["INTEL-SA-00837","intel-sa-00615"]}');
    expect(appraise(input({ advisoryIds: ["INTEL-SA-00615"] }), p).allowed).toBe(true);
    expect(appraise(input({ advisoryIds: [] }), p).allowed).toBe(true);
    const a = appraise(input({ advisoryIds: ["INTEL-SA-00615", "INTEL-SA-00960"] }), p);
    expect(a.denials).toEqual([
      {
        rule: "allowedAdvisoryIds",
        expected: ["INTEL-SA-00837", "INTEL-SA-00615"],
        actual: ["INTEL-SA-00615", "INTEL-SA-00960"],
        message: "advisories not allowed: INTEL-SA-00960",
      },
    ]);
  });

  it("minTcbDate", () => {
    const p = readPolicy('{"minTcbDate":"2024-03-13"}');
    expect(p.minTcbDate).toBe("2024-03-13T00:00:00.000Z");
    expect(appraise(input(), p).allowed).toBe(true);
    const a = appraise(input({ matchedTcbLevel: { tcbDate: "2023-08-09T00:00:00Z" } }), p);
    expect(a.denials).toEqual([
      {
        rule: "minTcbDate",
        expected: "2024-03-13T00:00:00.000Z",
        actual: "2023-08-09T00:00:00Z",
        message: expect.stringContaining("before"),
      },
    ]);
    expect(rulesDenied(appraise(input({ matchedTcbLevel: null }), p))).toEqual(["minTcbDate"]);
  });

  it("accepts the verifier's result type as input (compile-time check)", () => {
    const fromVerifier = (r: VerificationResult): AppraisalInput => r;
    expect(typeof fromVerifier).toBe("function");
  });

  it("maxCollateralAgeSeconds from the verifier's collateral dates, at the verification time", () => {
    const p = readPolicy('{"maxCollateralAgeSeconds":86400}');
    const collateral = {
      tcbInfo: { issueDate: "2025-06-19T10:16:03Z" },
      qeIdentity: { issueDate: "2025-06-19T10:32:27Z" },
    };
    const issued = Date.parse("2025-06-19T10:16:03Z") / 1000;
    const r = input({ collateralIssuedAt: undefined, collateral, at: issued + 100 });
    expect(appraise(r, p).evaluated.find((o) => o.rule === "maxCollateralAgeSeconds")?.actual).toBe(100);
    expect(appraise({ ...r, at: issued + 90_000 }, p).denials.map((d) => d.rule)).toEqual([
      "maxCollateralAgeSeconds",
    ]);
    // An explicit now wins over the verification time.
    expect(appraise({ ...r, at: issued + 90_000 }, p, { now: issued + 10 }).allowed).toBe(true);
  });

  it("maxCollateralAgeSeconds", () => {
    const p = readPolicy('{"maxCollateralAgeSeconds":86400}');
    const issued = Date.parse("2025-06-19T10:16:03Z") / 1000;
    expect(appraise(input(), p, { now: issued + 86_400 }).allowed).toBe(true);
    const a = appraise(input(), p, { now: new Date((issued + 86_401) * 1000) });
    expect(a.denials).toEqual([
      { rule: "maxCollateralAgeSeconds", expected: 86400, actual: 86401, message: expect.any(String) },
    ]);
    // Without a time or an issue date the rule cannot pass: it fails closed.
    expect(rulesDenied(appraise(input(), p))).toEqual(["maxCollateralAgeSeconds"]);
    expect(rulesDenied(appraise(input({ collateralIssuedAt: null }), p, { now: issued }))).toEqual([
      "maxCollateralAgeSeconds",
    ]);
  });

  it("every measurement allow-list (MRTD, RTMR0-3, MRCONFIGID, MROWNER, MROWNERCONFIG, REPORTDATA, XFAM)", () => {
    const body = tdBody();
    const other = tdBody({
      mrTd: fill(48, 1),
      mrConfigId: fill(48, 1),
      mrOwner: fill(48, 1),
      mrOwnerConfig: fill(48, 1),
      rtmr: [fill(48, 1), fill(48, 1), fill(48, 1), fill(48, 1)],
      reportData: fill(64, 1),
      xfam: fill(8, 1),
    });
    expect(ALLOW_LIST_RULES.map(([r]) => r)).toHaveLength(10);
    for (const [rule, bytes] of ALLOW_LIST_RULES) {
      const value = (b: QuoteBody): string => {
        if (b.kind === "sgx") throw new Error("td only");
        const r = b.report;
        const map: Record<string, Uint8Array> = {
          mrTd: r.mrTd,
          rtmr0: r.rtmr[0],
          rtmr1: r.rtmr[1],
          rtmr2: r.rtmr[2],
          rtmr3: r.rtmr[3],
          mrConfigId: r.mrConfigId,
          mrOwner: r.mrOwner,
          mrOwnerConfig: r.mrOwnerConfig,
          reportData: r.reportData,
          xfam: r.xfam,
        };
        return toHex(map[rule] as Uint8Array);
      };
      const allowedHex = value(body);
      expect(allowedHex).toHaveLength(bytes * 2);
      // Uppercase and 0x-prefixed entries are normalised.
      const p = readPolicy(JSON.stringify({ [rule]: [`0x${"ee".repeat(bytes)}`, allowedHex.toUpperCase()] }));
      expect(appraise(input({}, body), p).allowed).toBe(true);
      const a = appraise(input({}, other), p);
      expect(a.denials).toEqual([
        {
          rule,
          expected: ["ee".repeat(bytes), allowedHex],
          actual: value(other),
          message: `${rule} ${value(other)} is not in the allow-list`,
        },
      ]);
      // A TD rule on an SGX quote is a denial, not a pass.
      expect(rulesDenied(appraise(input({}, sgxBody(false)), p))).toEqual([rule]);
    }
  });

  it("requiredTdAttributes and forbiddenTdAttributes by name", () => {
    const p = readPolicy(
      '{"requiredTdAttributes":["SEPT_VE_DISABLE"],"forbiddenTdAttributes":["PKS","BIT62"]}',
    );
    expect(appraise(input(), p).allowed).toBe(true);
    const noSept = tdBody({ tdAttributes: fill(8, 0) });
    expect(appraise(input({}, noSept), p).denials).toEqual([
      {
        rule: "requiredTdAttributes",
        expected: ["SEPT_VE_DISABLE"],
        actual: [],
        message: "TD attributes not set: SEPT_VE_DISABLE",
      },
    ]);
    const withPks = tdBody({ tdAttributes: Uint8Array.from([0, 0, 0, 0x50, 0, 0, 0, 0]) });
    expect(appraise(input({}, withPks), p).denials).toEqual([
      {
        rule: "forbiddenTdAttributes",
        expected: ["DEBUG", "PKS", "TPA"],
        actual: ["SEPT_VE_DISABLE", "PKS"],
        message: "forbidden TD attributes set: PKS",
      },
    ]);
    expect(TD_ATTRIBUTE_BITS.TPA).toBe(62);
    expect(rulesDenied(appraise(input({}, sgxBody(false)), p))).toEqual(["requiredTdAttributes"]);
  });

  it("minTeeTcbSvn compares every component byte", () => {
    const p = readPolicy('{"minTeeTcbSvn":"05010200000000000000000000000000"}');
    expect(appraise(input(), p).allowed).toBe(true);
    const low = tdBody({ teeTcbSvn: Uint8Array.from([4, 1, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]) });
    expect(appraise(input({}, low), p).denials).toEqual([
      {
        rule: "minTeeTcbSvn",
        expected: "05010200000000000000000000000000",
        actual: "04010900000000000000000000000000",
        message: "TEE_TCB_SVN components below the minimum: byte 0",
      },
    ]);
    expect(rulesDenied(appraise(input({}, sgxBody(false)), p))).toEqual(["minTeeTcbSvn"]);
  });

  it("reports all denials at once and assertAllowed throws POLICY_DENIED with them", () => {
    const p = readPolicy('{"mrTd":["' + "00".repeat(48) + '"],"minTcbDate":"2030-01-01"}');
    const a = appraise(input({ tcbStatus: "OutOfDate", collateralExpired: true }), p);
    expect(rulesDenied(a)).toEqual(["acceptedTcbStatuses", "minTcbDate", "collateralExpired", "mrTd"]);
    const e = tdxErrorOf(() => assertAllowed(a));
    expect(e.code).toBe("POLICY_DENIED");
    expect(e.data?.denials).toHaveLength(4);
    expect(() => assertAllowed(appraise(input()))).not.toThrow();
  });
});

describe("empty lists", () => {
  it("the default policy, written out as JSON, reads back as itself", () => {
    expect(readPolicy(JSON.stringify(DEFAULT_POLICY))).toEqual(DEFAULT_POLICY);
  });
  it("an empty advisory list means no advisory is allowed; empty attribute lists require/forbid nothing", () => {
    const p = readPolicy('{"allowedAdvisoryIds":[],"requiredTdAttributes":[]}');
    expect(p.allowedAdvisoryIds).toEqual([]);
    expect(p.requiredTdAttributes).toEqual([]);
    expect(POLICY_JSON_SCHEMA).toBeTruthy();
  });
  it("an empty measurement allow-list is refused (it would refuse every TD)", () => {
    expect(() => readPolicy('{"mrTd":[]}')).toThrow(TdxError);
  });
});

describe("malformed policies are errors, never allow", () => {
  const cases: [string, string, string][] = [
    ["not json", "POLICY_INVALID", "$"],
    ["[]", "POLICY_INVALID", "$"],
    ["null", "POLICY_INVALID", "$"],
    ['{"mrtd":["00"]}', "POLICY_UNKNOWN_FIELD", "$.mrtd"],
    ['{"__proto__":{}}', "POLICY_UNKNOWN_FIELD", "$.__proto__"],
    ['{"toString":1}', "POLICY_UNKNOWN_FIELD", "$.toString"],
    ['{"version":2}', "POLICY_INVALID", "$.version"],
    ['{"acceptedTcbStatuses":"UpToDate"}', "POLICY_INVALID", "$.acceptedTcbStatuses"],
    ['{"acceptedTcbStatuses":[]}', "POLICY_INVALID", "$.acceptedTcbStatuses"],
    ['{"acceptedTcbStatuses":["UpToDate","uptodate"]}', "POLICY_INVALID", "$.acceptedTcbStatuses[1]"],
    ['{"acceptedTcbStatuses":["Revoked"]}', "POLICY_INVALID", "$.acceptedTcbStatuses[0]"],
    ['{"allowedAdvisoryIds":[42]}', "POLICY_INVALID", "$.allowedAdvisoryIds[0]"],
    ['{"allowedAdvisoryIds":["not an id"]}', "POLICY_INVALID", "$.allowedAdvisoryIds[0]"],
    ['{"minTcbDate":"yesterday"}', "POLICY_INVALID", "$.minTcbDate"],
    ['{"minTcbDate":20240313}', "POLICY_INVALID", "$.minTcbDate"],
    ['{"maxCollateralAgeSeconds":-1}', "POLICY_INVALID", "$.maxCollateralAgeSeconds"],
    ['{"maxCollateralAgeSeconds":"3600"}', "POLICY_INVALID", "$.maxCollateralAgeSeconds"],
    ['{"allowExpiredCollateral":"false"}', "POLICY_INVALID", "$.allowExpiredCollateral"],
    [`{"mrTd":["${"00".repeat(47)}"]}`, "POLICY_INVALID", "$.mrTd[0]"],
    [`{"rtmr2":["${"zz".repeat(48)}"]}`, "POLICY_INVALID", "$.rtmr2[0]"],
    [`{"reportData":["${"00".repeat(48)}"]}`, "POLICY_INVALID", "$.reportData[0]"],
    ['{"xfam":"e702060000000000"}', "POLICY_INVALID", "$.xfam"],
    ['{"requiredTdAttributes":["DEBUGG"]}', "POLICY_INVALID", "$.requiredTdAttributes[0]"],
    ['{"requiredTdAttributes":["DEBUG"]}', "POLICY_INVALID", "$.requiredTdAttributes"],
    ['{"forbiddenTdAttributes":["BIT64"]}', "POLICY_INVALID", "$.forbiddenTdAttributes[0]"],
    ['{"allowDebug":true,"forbiddenTdAttributes":["DEBUG"]}', "POLICY_INVALID", "$.allowDebug"],
    ['{"minTeeTcbSvn":"0501"}', "POLICY_INVALID", "$.minTeeTcbSvn"],
  ];
  for (const [text, code, field] of cases) {
    it(`${text} -> ${code} at ${field}`, () => {
      const e = tdxErrorOf(() => readPolicy(text));
      expect(e.code).toBe(code);
      expect(e.field).toBe(field);
      expect(e.hint).toBeTruthy();
    });
  }
});

describe("the published JSON Schema", () => {
  it("lists exactly the keys readPolicy accepts, and refuses additional properties", () => {
    const props = POLICY_JSON_SCHEMA.properties as Record<string, Record<string, unknown>>;
    expect(POLICY_JSON_SCHEMA.additionalProperties).toBe(false);
    for (const key of Object.keys(props)) {
      expect(() => policyFromJson({ [key]: null })).toThrow(TdxError);
      const e = tdxErrorOf(() => policyFromJson({ [key]: null }));
      expect(e.code).toBe("POLICY_INVALID"); // known key, wrong type
    }
    const full: Policy = {
      version: 1,
      acceptedTcbStatuses: ["UpToDate"],
      allowedAdvisoryIds: ["INTEL-SA-00837"],
      minTcbDate: "2024-03-13T00:00:00.000Z",
      maxCollateralAgeSeconds: 3600,
      allowExpiredCollateral: false,
      mrTd: ["00".repeat(48)],
      rtmr0: ["00".repeat(48)],
      rtmr1: ["00".repeat(48)],
      rtmr2: ["00".repeat(48)],
      rtmr3: ["00".repeat(48)],
      mrConfigId: ["00".repeat(48)],
      mrOwner: ["00".repeat(48)],
      mrOwnerConfig: ["00".repeat(48)],
      reportData: ["00".repeat(64)],
      xfam: ["00".repeat(8)],
      requiredTdAttributes: ["SEPT_VE_DISABLE"],
      forbiddenTdAttributes: ["DEBUG"],
      allowDebug: false,
      minTeeTcbSvn: "00".repeat(16),
    };
    expect(Object.keys(props).sort()).toEqual(Object.keys(full).sort());
    expect(readPolicy(JSON.stringify(full))).toEqual(full);
  });
});

describe.skipIf(!vectorsDir())(`appraisal of real quotes ${vectorsDir() ? "" : VECTORS_SKIP_REASON}`, () => {
  it("reads MRTD and attributes from a real TDX quote", () => {
    const v = loadCases().find(
      (c) => c.expected.quote.mrtd !== undefined && c.expected.expect.tcbStatus === "UpToDate",
    );
    expect(v).toBeDefined();
    if (!v) return;
    const q = parseQuote(v.quote);
    const mrtd = v.expected.quote.mrtd as string;
    const base = { ok: true, tcbStatus: "UpToDate", advisoryIds: [], collateralExpired: false, quote: q };
    expect(appraise(base, readPolicy(JSON.stringify({ mrTd: [mrtd] }))).allowed).toBe(true);
    const a = appraise(base, readPolicy(JSON.stringify({ mrTd: ["00".repeat(48)] })));
    expect(a.denials).toEqual([
      { rule: "mrTd", expected: ["00".repeat(48)], actual: mrtd, message: expect.any(String) },
    ]);
  });
});

describe("docs/policy.md examples", () => {
  it("every complete policy example in the docs is valid", async () => {
    const { readFileSync } = await import("node:fs");
    const { projectRoot } = await import("../helpers/vectors.js");
    const text = readFileSync(`${projectRoot}/docs/policy.md`, "utf8");
    const blocks = [...text.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1] ?? "");
    const policies = blocks.filter((b) => !b.includes('"rule"'));
    expect(policies.length).toBeGreaterThanOrEqual(2);
    for (const b of policies) {
      // Placeholders stand for real measurements.
      const filled = b.replaceAll("<96 hex digits>", "ab".repeat(48));
      expect(() => readPolicy(filled)).not.toThrow();
    }
    expect(readPolicy(policies[0] ?? "")).toEqual(DEFAULT_POLICY);
  });
});
