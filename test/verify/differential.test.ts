import { beforeAll, describe, expect, it } from "vitest";
import type { Collateral } from "../../src/collateral/types.js";
import { signText } from "../../src/sim/collateral.js";
import { enumerated, octetString, oid, sequence } from "../../src/sim/der.js";
import { encodeSgxExtension } from "../../src/sim/index.js";
import { Verifier } from "../../src/verify/index.js";
import {
  crl,
  customCrl,
  type Expectation,
  type Json,
  pckCert,
  pckChainPems,
  pckChainUnderCa,
  pckValues,
  pemBlocks,
  quoteWithChain,
  requote,
  type SimWorld,
  simWorld,
  verdictOf,
  withQeIdentity,
  withTcbInfo,
} from "../helpers/sim-differential.js";

/**
 * The differential family: the simulated platform's collateral and quote, changed one rule at a time and
 * re-signed with the simulator's own keys, so that only Intel's rules decide. Each case's expectation is
 * written from Intel's QVL (the source named in `rule`), not from this verifier's output. The simulated
 * platform (scenario up-to-date, TDX 1.5 module, Platform-CA PCK): PCK SGX SVNs [3,3,2,2,4,1,0,5,0..],
 * PCESVN 13, TEE_TCB_SVN [6,1,3,0..] (module SVN 6 of TDX_01, microcode 3), QE ISVSVN 7; TCB levels
 * top (UpToDate, tdx[2]=3), previous (OutOfDate, SGX [2,2,2,2,3,1,0,5..], tdx[2]=2), oldPce (PCESVN 5,
 * OutOfDate); TDX_01 levels 6 UpToDate / 4 OutOfDate / 2 OutOfDate; TDX_03 level 3; QE level isvsvn 4.
 */

interface Input {
  quote?: Uint8Array;
  collateral?: Collateral;
  now?: Date;
}
interface Case {
  name: string;
  /** The QVL source (intel/SGX-TDX-DCAP-QuoteVerificationLibrary) the expectation follows. */
  rule: string;
  input: (w: SimWorld) => Input | Promise<Input>;
  expect: Expectation;
}

const L = "Src/AttestationLibrary/src";
const P = "Src/AttestationParsers/src";
const UP: Expectation = { ok: true, tcbStatus: "UpToDate", code: null, collateralExpired: false };
const status = (s: string): Expectation =>
  s === "Revoked"
    ? { ok: false, tcbStatus: "Revoked", code: "TCB_REVOKED", collateralExpired: false }
    : { ok: true, tcbStatus: s, code: null, collateralExpired: false };
const fails = (code: string): Expectation => ({ ok: false, tcbStatus: null, code });
const TCB_STATUSES = [
  "UpToDate",
  "SWHardeningNeeded",
  "ConfigurationNeeded",
  "ConfigurationAndSWHardeningNeeded",
  "OutOfDate",
  "OutOfDateConfigurationNeeded",
  "Revoked",
];

type Level = Json & { tcb: Json & { sgxtcbcomponents: Json[]; tdxtcbcomponents: Json[]; pcesvn: number } };
const levels = (o: Json) => o.tcbLevels as Level[];
const modules = (o: Json) => o.tdxModuleIdentities as (Json & { id: string; tcbLevels: Json[] })[];
const tdx01 = (o: Json) => modules(o).find((m) => m.id === "TDX_01")!;
const qeLevels = (o: Json) => o.tcbLevels as (Json & { tcb: { isvsvn: number } })[];
/** Raw-text edit inside the platform TCB levels (they come last, after tdxModuleIdentities). */
const inLevels = (text: string, from: string, to: string) => {
  const at = text.lastIndexOf('"tcbLevels":');
  return text.slice(0, at) + text.slice(at).replace(from, to);
};

// ---------------------------------------------------------------- TCB Info

const tcbInfoCases: Case[] = [
  ...TCB_STATUSES.map(
    (s): Case => ({
      name: `matched TCB level status ${s}`,
      rule: `${L}/Verifiers/Checks/TcbLevelCheck.cpp checkTcbLevel; TcbStatus.h TCB_STATUS_MAP`,
      input: (w) => ({
        collateral: withTcbInfo(w, (o) => {
          levels(o)[0]!.tcbStatus = s;
        }),
      }),
      expect: status(s),
    }),
  ),
  ...["Compromised", "uptodate", ""].map(
    (s): Case => ({
      name: `unknown TCB level status "${s}" (matched level)`,
      rule: `${P}/Json/TcbLevel.cpp parseStatus (validStatuses)`,
      input: (w) => ({
        collateral: withTcbInfo(w, (o) => {
          levels(o)[0]!.tcbStatus = s;
        }),
      }),
      expect: fails("TCB_INFO_MALFORMED"),
    }),
  ),
  {
    name: "unknown status on a level that is not matched: still refused at parse",
    rule: `${P}/Json/TcbLevel.cpp parseStatus`,
    input: (w) => ({
      collateral: withTcbInfo(w, (o) => {
        levels(o)[2]!.tcbStatus = "Compromised";
      }),
    }),
    expect: fails("TCB_INFO_MALFORMED"),
  },
  {
    name: "TCB levels in reverse JSON order: the same verdict (a set ordered by SVNs)",
    rule: `${P}/Json/TcbInfo.cpp _tcbLevels std::set; TcbLevel.cpp operator>`,
    input: (w) => ({ collateral: withTcbInfo(w, (o) => void levels(o).reverse()) }),
    expect: UP,
  },
  {
    name: "a TCB level twice",
    rule: `${P}/Json/TcbInfo.cpp "Detected duplicated TCB levels"`,
    input: (w) => ({
      collateral: withTcbInfo(w, (o) => void levels(o).push(structuredClone(levels(o)[1]!))),
    }),
    expect: fails("TCB_INFO_MALFORMED"),
  },
  {
    name: "two levels alike but for their status: a duplicate",
    rule: `${P}/Json/TcbLevel.cpp operator> ignores the status`,
    input: (w) => ({
      collateral: withTcbInfo(w, (o) => {
        levels(o).push({ ...structuredClone(levels(o)[0]!), tcbStatus: "Revoked" });
      }),
    }),
    expect: fails("TCB_INFO_MALFORMED"),
  },
  {
    name: "the matched level removed: the next one (OutOfDate) matches",
    rule: `${L}/Verifiers/Checks/TcbLevelCheck.cpp matchTcbLevels`,
    input: (w) => ({ collateral: withTcbInfo(w, (o) => void levels(o).shift()) }),
    expect: status("OutOfDate"),
  },
  {
    name: "no TCB level at all",
    rule: `${P}/Json/TcbInfo.cpp "Number of parsed [tcbLevels] should not be 0"`,
    input: (w) => ({
      collateral: withTcbInfo(w, (o) => {
        o.tcbLevels = [];
      }),
    }),
    expect: fails("TCB_INFO_MALFORMED"),
  },
  {
    name: "tcbLevels missing",
    rule: `${P}/Json/TcbInfo.cpp "Missing [tcbLevels] field"`,
    input: (w) => ({ collateral: withTcbInfo(w, (o) => void delete o.tcbLevels) }),
    expect: fails("TCB_INFO_MALFORMED"),
  },
  {
    name: "top level PCESVN 14: the PCK (13) is below it, the next level matches",
    rule: `${L}/Verifiers/Checks/TcbLevelCheck.cpp tcb.getPceSvn() >= tcbLevel.getPceSvn()`,
    input: (w) => ({
      collateral: withTcbInfo(w, (o) => {
        levels(o)[0]!.tcb.pcesvn = 14;
      }),
    }),
    expect: status("OutOfDate"),
  },
  {
    name: "top level PCESVN 65549 (a uint32 for QVL, not 16 bits): the next level matches",
    rule: `${P}/Json/TcbLevel.cpp getUintFieldOf(pcesvn)`,
    input: (w) => ({
      collateral: withTcbInfo(w, (o) => {
        levels(o)[0]!.tcb.pcesvn = 65549;
      }),
    }),
    expect: status("OutOfDate"),
  },
  {
    name: "top level TDX microcode component 4 (> TEE_TCB_SVN[2] 3): SGX level top, TDX level previous",
    rule: `${L}/Verifiers/Checks/TcbLevelCheck.cpp isTdxTcbHigherOrEqual; the TDX status comes from the TDX level`,
    input: (w) => ({
      collateral: withTcbInfo(w, (o) => {
        levels(o)[0]!.tcb.tdxtcbcomponents[2]!.svn = 4;
      }),
    }),
    expect: status("OutOfDate"),
  },
  ...[0, 1].map(
    (i): Case => ({
      name: `top level TDX component ${i} raised to 99: skipped because TEE_TCB_SVN[1] > 0`,
      rule: `${L}/Verifiers/Checks/TcbLevelCheck.cpp isTdxTcbHigherOrEqual (index = 2 when teeTcbSvn[1] > 0)`,
      input: (w) => ({
        collateral: withTcbInfo(w, (o) => {
          levels(o)[0]!.tcb.tdxtcbcomponents[i]!.svn = 99;
        }),
      }),
      expect: UP,
    }),
  ),
  {
    name: "every level above the PCK's SGX SVNs: no level",
    rule: `${L}/Verifiers/Checks/TcbLevelCheck.cpp "SGX TCB Level has not been selected" (TCB_NOT_SUPPORTED)`,
    input: (w) => ({
      collateral: withTcbInfo(w, (o) => {
        for (const l of levels(o)) l.tcb.sgxtcbcomponents[0]!.svn = 9;
      }),
    }),
    expect: fails("TCB_LEVEL_NOT_FOUND"),
  },
  {
    name: "SGX component SVN 259 is read as uint8_t 3: the top level still matches",
    rule: `${P}/Json/TcbComponent.cpp static_cast<uint8_t>(svn)`,
    input: (w) => ({
      collateral: withTcbInfo(w, (o) => {
        levels(o)[0]!.tcb.sgxtcbcomponents[0]!.svn = 259;
      }),
    }),
    expect: UP,
  },
  {
    name: "SGX component SVN 3.0: not IsUint",
    rule: `${P}/Json/TcbComponent.cpp getUintFieldOf(svn); rapidjson IsUint`,
    input: (w) => ({
      collateral: withTcbInfo(w, (_o, t) => inLevels(t, '{"svn":3,', '{"svn":3.0,')),
    }),
    expect: fails("TCB_INFO_MALFORMED"),
  },
  {
    name: "a component category that is not a string",
    rule: `${P}/Json/TcbComponent.cpp "[category] field should be string"`,
    input: (w) => ({
      collateral: withTcbInfo(w, (o) => {
        levels(o)[1]!.tcb.sgxtcbcomponents[0]!.category = 1;
      }),
    }),
    expect: fails("TCB_INFO_MALFORMED"),
  },
  {
    name: "15 SGX components",
    rule: `${P}/Json/TcbLevel.cpp "array should have 16 entries"`,
    input: (w) => ({ collateral: withTcbInfo(w, (o) => void levels(o)[0]!.tcb.sgxtcbcomponents.pop()) }),
    expect: fails("TCB_INFO_MALFORMED"),
  },
  ...[
    ["tcbDate", "not-a-date"],
    ["tcbDate", "20241113"],
    ["tcbDate", "2024-11-13T00:00:00.000Z"],
    ["tcbDate", "2024-11-13T00:00:00+00:00"],
    ["tcbDate", "2024-11-13"],
  ].map(
    ([field, value]): Case => ({
      name: `level ${field} "${value}"`,
      rule: `${P}/Json/TcbLevel.cpp getDateFieldOf(tcbDate); ${P}/Utils/TimeUtils.cpp isValidTimeString`,
      input: (w) => ({
        collateral: withTcbInfo(w, (o) => {
          levels(o)[1]![field!] = value;
        }),
      }),
      expect: fails("TCB_INFO_MALFORMED"),
    }),
  ),
  {
    name: "level tcbDate 2024-02-30T00:00:00Z: mktime would change it, so it is not a valid time",
    rule: "Src/AttestationCommons/src/Utils/TimeUtils.cpp isValidTimeString (mktime round trip)",
    input: (w) => ({
      collateral: withTcbInfo(w, (o) => {
        levels(o)[1]!.tcbDate = "2024-02-30T00:00:00Z";
      }),
    }),
    expect: fails("TCB_INFO_MALFORMED"),
  },
  ...["2027-06-31T11:10:45Z", "2026-06-30T23:59:60Z"].flatMap((value) =>
    (
      [
        ["TCB Info", withTcbInfo, "TCB_INFO_MALFORMED"],
        ["QE Identity", withQeIdentity, "QE_IDENTITY_MALFORMED"],
      ] as const
    ).map(
      ([what, edit, code]): Case => ({
        name: `${what} nextUpdate ${value}: not a valid time`,
        rule: "Src/AttestationCommons/src/Utils/TimeUtils.cpp isValidTimeString (mktime round trip)",
        input: (w) => ({
          collateral: edit(w, (o) => {
            o.nextUpdate = value;
          }),
        }),
        expect: fails(code),
      }),
    ),
  ),
  ...["issueDate", "nextUpdate"].flatMap((field) =>
    ["2026-06-01T11:00:00.5Z", "2026-06-01 11:00:00Z", "1780311600"].map(
      (value): Case => ({
        name: `TCB Info ${field} "${value}"`,
        rule: `${P}/Json/TcbInfo.cpp getDateFieldOf(${field})`,
        input: (w) => ({
          collateral: withTcbInfo(w, (o) => {
            o[field] = value;
          }),
        }),
        expect: fails("TCB_INFO_MALFORMED"),
      }),
    ),
  ),
  {
    name: "TCB Info nextUpdate before now: expired collateral, verdict kept",
    rule: `${L}/Verifiers/TCBInfoVerifier.cpp expirationDate > getNextUpdate() (SGX_TCB_INFO_EXPIRED, non-terminal)`,
    input: (w) => ({
      collateral: withTcbInfo(w, (o) => {
        o.nextUpdate = "2026-06-01T11:59:59Z";
      }),
    }),
    expect: { ...UP, collateralExpired: true, expiredItems: ["tcbInfo.nextUpdate"] },
  },
  {
    name: "TCB Info issueDate after now: not checked",
    rule: `${L}/Verifiers/TCBInfoVerifier.cpp (no issueDate check)`,
    input: (w) => ({
      collateral: withTcbInfo(w, (o) => {
        o.issueDate = "2026-06-02T00:00:00Z";
      }),
    }),
    expect: UP,
  },
  {
    name: "advisoryIDs that are not an array",
    rule: `${P}/Json/TcbLevel.cpp getStringVecFieldOf (Invalid)`,
    input: (w) => ({
      collateral: withTcbInfo(w, (o) => {
        levels(o)[0]!.advisoryIDs = "INTEL-SA-00001";
      }),
    }),
    expect: fails("TCB_INFO_MALFORMED"),
  },
  {
    name: "advisory IDs of the matched level are reported",
    rule: `QvE qve.cpp qve_set_quote_supplemental_data: getMatchingTcbLevel(...).getAdvisoryIDs()`,
    input: (w) => ({
      collateral: withTcbInfo(w, (o) => {
        levels(o)[0]!.advisoryIDs = ["INTEL-SA-99999"];
      }),
    }),
    expect: UP,
  },
  {
    name: "version 4",
    rule: `${P}/Json/TcbInfo.cpp "Supported versions are [2 | 3]"`,
    input: (w) => ({
      collateral: withTcbInfo(w, (o) => {
        o.version = 4;
      }),
    }),
    expect: fails("TCB_INFO_UNSUPPORTED_VERSION"),
  },
  {
    name: "version 3.0: not IsUint",
    rule: `${P}/Json/TcbInfo.cpp getUintFieldOf(version)`,
    input: (w) => ({ collateral: withTcbInfo(w, (_o, t) => t.replace('"version":3', '"version":3.0')) }),
    expect: fails("TCB_INFO_MALFORMED"),
  },
  {
    name: 'id "SGX" with tdxModule: refused by the v3 parser',
    rule: `${P}/Json/TcbInfo.cpp parsePartV3 "TCB Info JSON for SGX should not have [tdxModule]"`,
    input: (w) => ({
      collateral: withTcbInfo(w, (o) => {
        o.id = "SGX";
      }),
    }),
    expect: fails("TCB_INFO_MALFORMED"),
  },
  {
    name: "a well-formed SGX TCB Info for a TDX quote: TCB_INFO_MISMATCH",
    rule: `${L}/Verifiers/QuoteVerifier.cpp 4.1.2.4.9`,
    input: (w) => ({
      collateral: withTcbInfo(w, (o) => {
        o.id = "SGX";
        delete o.tdxModule;
        delete o.tdxModuleIdentities;
        for (const l of levels(o)) delete (l.tcb as Json).tdxtcbcomponents;
      }),
    }),
    expect: fails("TCB_INFO_MISMATCH"),
  },
  {
    name: 'id "tdx"',
    rule: `${P}/Json/TcbInfo.cpp "Supported identifiers are [SGX | TDX]"`,
    input: (w) => ({
      collateral: withTcbInfo(w, (o) => {
        o.id = "tdx";
      }),
    }),
    expect: fails("TCB_INFO_MALFORMED"),
  },
  {
    name: "another FMSPC",
    rule: `${L}/Verifiers/QuoteVerifier.cpp 4.1.2.4.10`,
    input: (w) => ({
      collateral: withTcbInfo(w, (o) => {
        o.fmspc = "00906ED50000";
      }),
    }),
    expect: fails("TCB_INFO_MISMATCH"),
  },
  {
    name: "the FMSPC in lower case: the same bytes",
    rule: `${P}/Json/JsonParser.cpp getBytesFieldOf (hexStringToBytes)`,
    input: (w) => ({
      collateral: withTcbInfo(w, (o) => {
        o.fmspc = String(o.fmspc).toLowerCase();
      }),
    }),
    expect: UP,
  },
  {
    name: "an FMSPC of 5 bytes",
    rule: `${P}/Json/TcbInfo.cpp getBytesFieldOf(fmspc, FMSPC_BYTE_LEN * 2)`,
    input: (w) => ({
      collateral: withTcbInfo(w, (o) => {
        o.fmspc = "90C06F0000";
      }),
    }),
    expect: fails("TCB_INFO_MALFORMED"),
  },
  {
    name: "another PCE-ID",
    rule: `${L}/Verifiers/QuoteVerifier.cpp 4.1.2.4.10`,
    input: (w) => ({
      collateral: withTcbInfo(w, (o) => {
        o.pceId = "0100";
      }),
    }),
    expect: fails("TCB_INFO_MISMATCH"),
  },
  {
    name: "tcbType 1",
    rule: `${P}/Json/TcbInfo.cpp 4.1.2.7.4 "Supported types are: [0]"`,
    input: (w) => ({
      collateral: withTcbInfo(w, (o) => {
        o.tcbType = 1;
      }),
    }),
    expect: fails("TCB_INFO_MALFORMED"),
  },
  {
    name: "tcbEvaluationDataNumber as a string",
    rule: `${P}/Json/TcbInfo.cpp getUintFieldOf(tcbEvaluationDataNumber)`,
    input: (w) => ({
      collateral: withTcbInfo(w, (o) => {
        o.tcbEvaluationDataNumber = "18";
      }),
    }),
    expect: fails("TCB_INFO_MALFORMED"),
  },
  {
    name: "an extra member QVL does not know: ignored",
    rule: `${P}/Json/TcbInfo.cpp reads named members only`,
    input: (w) => ({
      collateral: withTcbInfo(w, (o) => {
        o.comment = { any: [1, "x", null] };
      }),
    }),
    expect: UP,
  },
  {
    name: "duplicate tcbStatus in the matched level, Revoked first (signed): the first wins",
    rule: `${P}/Json/TcbLevel.cpp parseStatus via rapidjson operator[] (first member)`,
    input: (w) => ({
      collateral: withTcbInfo(w, (_o, t) =>
        inLevels(t, '"tcbStatus":"UpToDate"', '"tcbStatus":"Revoked","tcbStatus":"UpToDate"'),
      ),
    }),
    expect: status("Revoked"),
  },
  {
    name: "duplicate tcbStatus in the matched level, Revoked last (signed): the first (UpToDate) wins",
    rule: `${P}/Json/TcbLevel.cpp parseStatus via rapidjson operator[] (first member)`,
    input: (w) => ({
      collateral: withTcbInfo(w, (_o, t) =>
        inLevels(t, '"tcbStatus":"UpToDate"', '"tcbStatus":"UpToDate","tcbStatus":"Revoked"'),
      ),
    }),
    expect: UP,
  },
  {
    name: "duplicate fmspc, another one first (signed)",
    rule: `${P}/Json/TcbInfo.cpp getBytesFieldOf(fmspc) via operator[] (first member)`,
    input: (w) => ({
      collateral: withTcbInfo(w, (_o, t) => t.replace('"fmspc":', '"fmspc":"00906ED50000","fmspc":')),
    }),
    expect: fails("TCB_INFO_MISMATCH"),
  },
  {
    name: "duplicate tcbLevels, the first holding only the OutOfDate level (signed)",
    rule: `${P}/Json/TcbInfo.cpp (*tcbInfo)["tcbLevels"] (first member)`,
    input: (w) => ({
      collateral: withTcbInfo(w, (o, t) => {
        const prev = JSON.stringify([levels(o)[1]]);
        const at = t.lastIndexOf('"tcbLevels":');
        return `${t.slice(0, at)}"tcbLevels":${prev},${t.slice(at)}`;
      }),
    }),
    expect: status("OutOfDate"),
  },
  {
    name: "a duplicate inserted before a member of the signed text, signature unchanged",
    rule: `${P}/Json/TcbInfo.cpp _infoBody = Writer over the parsed object (duplicates included)`,
    input: (w) => ({
      collateral: {
        ...w.collateral,
        tcbInfo: inLevels(
          w.collateral.tcbInfo,
          '"tcbStatus":"UpToDate"',
          '"tcbStatus":"Revoked","tcbStatus":"UpToDate"',
        ),
      },
    }),
    expect: fails("TCB_INFO_SIGNATURE_INVALID"),
  },
  {
    name: "re-indented text, Intel's signature over the compact form",
    rule: `${P}/Json/TcbInfo.cpp _infoBody = compact rapidjson Writer`,
    input: (w) => ({
      collateral: { ...w.collateral, tcbInfo: JSON.stringify(JSON.parse(w.collateral.tcbInfo), null, 2) },
    }),
    expect: UP,
  },
  {
    name: "re-indented text signed over its own (pretty-printed) bytes",
    rule: `${P}/Json/TcbInfo.cpp _infoBody = compact rapidjson Writer`,
    input: (w) => ({ collateral: withTcbInfo(w, (_o, t) => JSON.stringify(JSON.parse(t), null, 2)) }),
    expect: fails("TCB_INFO_SIGNATURE_INVALID"),
  },
  {
    name: "escapes in the text (\\u0055pToDate), signed over the compact form",
    rule: `${P}/Json/TcbInfo.cpp Writer writes the decoded string`,
    input: (w) => {
      const text = inLevels(w.collateral.tcbInfo, '"tcbStatus":"UpToDate"', '"tcbStatus":"\\u0055pToDate"');
      return {
        collateral: {
          ...w.collateral,
          tcbInfo: text,
          tcbInfoSignature: signText(w.collateral.tcbInfo, w.keys.tcbSigning),
        },
      };
    },
    expect: UP,
  },
  {
    name: "a number with an exponent in an extra member, signed over the Writer's form (100.0)",
    rule: `${P}/Json/TcbInfo.cpp Writer (SetMaxDecimalPlaces(25))`,
    input: (w) => {
      const text = w.collateral.tcbInfo.replace('"id":"TDX"', '"extra":1e2,"id":"TDX"');
      const signed = w.collateral.tcbInfo.replace('"id":"TDX"', '"extra":100.0,"id":"TDX"');
      return {
        collateral: { ...w.collateral, tcbInfo: text, tcbInfoSignature: signText(signed, w.keys.tcbSigning) },
      };
    },
    expect: UP,
  },
  {
    name: "a text that is not JSON",
    rule: `${P}/Json/JsonParser.cpp parse (HasParseError)`,
    input: (w) => ({ collateral: withTcbInfo(w, (_o, t) => `${t.slice(0, -1)},}`) }),
    expect: fails("TCB_INFO_MALFORMED"),
  },
];

// ---------------------------------------------------------------- TDX module identities

const moduleCases: Case[] = [
  ...[
    ["OutOfDate", "OutOfDate"],
    ["Revoked", "Revoked"],
  ].map(
    ([s, final]): Case => ({
      name: `TDX_01 level 6 status ${s}`,
      rule: `${L}/Verifiers/Checks/TdxModuleCheck.cpp convergeTcbStatusWithTdxModuleStatus`,
      input: (w) => ({
        collateral: withTcbInfo(w, (o) => {
          tdx01(o).tcbLevels[0]!.tcbStatus = s;
        }),
      }),
      expect: status(final!),
    }),
  ),
  {
    name: 'TDX_01 level 6 status "SWHardeningNeeded": not a module status',
    rule: `${L}/Verifiers/TcbStatus.h VALID_MODULE_TCB_STATUSES (TCB_UNRECOGNIZED_STATUS)`,
    input: (w) => ({
      collateral: withTcbInfo(w, (o) => {
        tdx01(o).tcbLevels[0]!.tcbStatus = "SWHardeningNeeded";
      }),
    }),
    expect: fails("TCB_STATUS_UNRECOGNIZED"),
  },
  {
    name: "an unknown status on an unused module level: accepted (checked only when used)",
    rule: `${P}/Json/TdxModuleTcbLevel.cpp (any string); TdxModuleCheck.cpp checks the matched level`,
    input: (w) => ({
      collateral: withTcbInfo(w, (o) => {
        tdx01(o).tcbLevels[2]!.tcbStatus = "Whatever";
      }),
    }),
    expect: UP,
  },
  {
    name: "every TDX_01 level above the module SVN 6",
    rule: `${L}/Verifiers/Checks/TdxModuleCheck.cpp (TCB_NOT_SUPPORTED)`,
    input: (w) => ({
      collateral: withTcbInfo(w, (o) => {
        tdx01(o).tcbLevels = [{ tcb: { isvsvn: 7 }, tcbDate: "2024-11-13T00:00:00Z", tcbStatus: "UpToDate" }];
      }),
    }),
    expect: fails("TDX_MODULE_TCB_LEVEL_NOT_FOUND"),
  },
  {
    name: "TDX_01 missing",
    rule: `${L}/Verifiers/QuoteVerifier.cpp 4.1.2.4.11 findTdxModuleIdentity (TDX_MODULE_MISMATCH)`,
    input: (w) => ({
      collateral: withTcbInfo(w, (o) => {
        o.tdxModuleIdentities = modules(o).filter((m) => m.id !== "TDX_01");
      }),
    }),
    expect: fails("TDX_MODULE_MISMATCH"),
  },
  {
    name: "tdxModuleIdentities missing",
    rule: `${L}/Verifiers/QuoteVerifier.cpp 4.1.2.4.11`,
    input: (w) => ({ collateral: withTcbInfo(w, (o) => void delete o.tdxModuleIdentities) }),
    expect: fails("TDX_MODULE_MISMATCH"),
  },
  {
    name: "tdxModuleIdentities empty",
    rule: `${P}/Json/TcbInfo.cpp "Number of parsed [tdxModuleIdentities] should not be 0"`,
    input: (w) => ({
      collateral: withTcbInfo(w, (o) => {
        o.tdxModuleIdentities = [];
      }),
    }),
    expect: fails("TCB_INFO_MALFORMED"),
  },
  {
    name: 'module id "tdx_01": compared in upper case',
    rule: `${L}/Verifiers/Checks/TdxModuleCheck.cpp findTdxModuleIdentity (::toupper)`,
    input: (w) => ({
      collateral: withTcbInfo(w, (o) => {
        tdx01(o).id = "tdx_01";
      }),
    }),
    expect: UP,
  },
  {
    name: "module identities reordered, module levels reordered",
    rule: `${P}/Json/TdxModuleIdentity.cpp levels std::set by isvsvn; TdxModuleCheck.cpp find_if by id`,
    input: (w) => ({
      collateral: withTcbInfo(w, (o) => {
        modules(o).reverse();
        tdx01(o).tcbLevels.reverse();
      }),
    }),
    expect: UP,
  },
  {
    name: "two TDX_01 levels with isvsvn 6",
    rule: `${P}/Json/TdxModuleIdentity.cpp "Detected duplicated TDX Module Identity TCB levels"`,
    input: (w) => ({
      collateral: withTcbInfo(
        w,
        (o) => void tdx01(o).tcbLevels.push({ ...tdx01(o).tcbLevels[0]!, tcbStatus: "Revoked" }),
      ),
    }),
    expect: fails("TCB_INFO_MALFORMED"),
  },
  {
    name: "TDX_01 level isvsvn 65535 (above the module): the next level matches",
    rule: `${P}/Json/TdxModuleTcb.cpp isvsvn 0..UINT16_MAX`,
    input: (w) => ({
      collateral: withTcbInfo(w, (o) => {
        tdx01(o).tcbLevels.push({
          tcb: { isvsvn: 65535 },
          tcbDate: "2025-01-01T00:00:00Z",
          tcbStatus: "UpToDate",
        });
      }),
    }),
    expect: UP,
  },
  {
    name: "TDX_01 level isvsvn 65536",
    rule: `${P}/Json/TdxModuleTcb.cpp "value should be within 0 and 65535"`,
    input: (w) => ({
      collateral: withTcbInfo(w, (o) => {
        (tdx01(o).tcbLevels[2]!.tcb as Json).isvsvn = 65536;
      }),
    }),
    expect: fails("TCB_INFO_MALFORMED"),
  },
  {
    name: "TDX_01 level tcbDate not a date",
    rule: `${P}/Json/TdxModuleTcbLevel.cpp getDateFieldOf(tcbDate)`,
    input: (w) => ({
      collateral: withTcbInfo(w, (o) => {
        tdx01(o).tcbLevels[1]!.tcbDate = "2024-03-13";
      }),
    }),
    expect: fails("TCB_INFO_MALFORMED"),
  },
  {
    name: "TDX_01 mrsigner of another signer",
    rule: `${L}/Verifiers/QuoteVerifier.cpp 4.1.2.4.11.1`,
    input: (w) => ({
      collateral: withTcbInfo(w, (o) => {
        tdx01(o).mrsigner = "AB".repeat(48);
      }),
    }),
    expect: fails("TDX_MODULE_MISMATCH"),
  },
  {
    name: "TDX_01 attributes 0100000000000000 (SEAMATTRIBUTES 0 must equal them)",
    rule: `${L}/Verifiers/QuoteVerifier.cpp 4.1.2.4.11.2`,
    input: (w) => ({
      collateral: withTcbInfo(w, (o) => {
        tdx01(o).attributes = "0100000000000000";
      }),
    }),
    expect: fails("TDX_MODULE_MISMATCH"),
  },
  {
    name: "TDX_01 attributesMask zero: the mask is not applied",
    rule: `${L}/Verifiers/QuoteVerifier.cpp 4.1.2.4.11.2 (no mask)`,
    input: (w) => ({
      collateral: withTcbInfo(w, (o) => {
        tdx01(o).attributesMask = "0000000000000000";
      }),
    }),
    expect: UP,
  },
  {
    name: "top-level tdxModule of another signer: not used when TEE_TCB_SVN[1] > 0",
    rule: `${L}/Verifiers/QuoteVerifier.cpp 4.1.2.4.11 (overwritten by the module identity)`,
    input: (w) => ({
      collateral: withTcbInfo(w, (o) => {
        (o.tdxModule as Json).mrsigner = "CD".repeat(48);
      }),
    }),
    expect: UP,
  },
  {
    name: "top-level tdxModule missing",
    rule: `${P}/Json/TcbInfo.cpp parsePartV3 "TCB Info JSON for TDX should have [tdxModule]"`,
    input: (w) => ({ collateral: withTcbInfo(w, (o) => void delete o.tdxModule) }),
    expect: fails("TCB_INFO_MALFORMED"),
  },
];

// ---------------------------------------------------------------- QE Identity

const qeCases: Case[] = [
  ...[
    ["UpToDate", "UpToDate", "UpToDate"],
    ["OutOfDate", "OutOfDate", "OutOfDate"],
    ["ConfigurationNeeded", "OutOfDate", "OutOfDate"],
    ["OutOfDateConfigurationNeeded", "OutOfDate", "OutOfDate"],
    ["Revoked", "Revoked", "Revoked"],
  ].map(
    ([s, qeStatus, final]): Case => ({
      name: `QE level status ${s} (QE ${qeStatus})`,
      rule: `${L}/Verifiers/EnclaveReportVerifier.cpp 4.1.2.9.9-10; Checks/TcbLevelCheck.cpp convergeTcbStatusWithQeTcbStatus`,
      input: (w) => ({
        collateral: withQeIdentity(w, (o) => {
          qeLevels(o)[0]!.tcbStatus = s;
        }),
      }),
      expect: status(final!),
    }),
  ),
  ...["SWHardeningNeeded", "ConfigurationAndSWHardeningNeeded", "Compromised"].map(
    (s): Case => ({
      name: `QE level status ${s}: not a QE identity status`,
      rule: `${L}/Verifiers/TcbStatus.h parseStringToTcbStatus; EnclaveIdentityV2.cpp parseTcbLevels`,
      input: (w) => ({
        collateral: withQeIdentity(w, (o) => {
          qeLevels(o)[0]!.tcbStatus = s;
        }),
      }),
      expect: fails("QE_IDENTITY_MALFORMED"),
    }),
  ),
  {
    name: "QE levels in JSON order: the first with isvsvn <= 7 (an OutOfDate level 2 first)",
    rule: `${L}/Verifiers/EnclaveIdentityV2.cpp getTcbStatus (vector, first match)`,
    input: (w) => ({
      collateral: withQeIdentity(w, (o) => {
        qeLevels(o).unshift({ tcb: { isvsvn: 2 }, tcbDate: "2023-08-09T00:00:00Z", tcbStatus: "OutOfDate" });
      }),
    }),
    expect: status("OutOfDate"),
  },
  {
    name: "every QE level above the QE's ISVSVN 7",
    rule: `${L}/Verifiers/EnclaveReportVerifier.cpp ISVSVN_NOT_SUPPORTED -> TCB_NOT_SUPPORTED`,
    input: (w) => ({
      collateral: withQeIdentity(w, (o) => {
        qeLevels(o)[0]!.tcb.isvsvn = 8;
      }),
    }),
    expect: fails("QE_TCB_LEVEL_NOT_FOUND"),
  },
  {
    name: "QE level isvsvn 70000 first (a uint32 for QVL), then the real level",
    rule: `${L}/Verifiers/EnclaveIdentityV2.cpp getUintFieldOf(isvsvn)`,
    input: (w) => ({
      collateral: withQeIdentity(w, (o) => {
        qeLevels(o).unshift({
          tcb: { isvsvn: 70000 },
          tcbDate: "2025-01-01T00:00:00Z",
          tcbStatus: "UpToDate",
        });
      }),
    }),
    expect: UP,
  },
  ...[
    ["QE", "QE_IDENTITY_MISMATCH"],
    ["QVE", "QE_IDENTITY_MISMATCH"],
    ["TDQE", "QE_IDENTITY_MALFORMED"],
  ].map(
    ([id, code]): Case => ({
      name: `QE identity id "${id}"`,
      rule: `${L}/Verifiers/QuoteVerifier.cpp 4.1.2.4.14; EnclaveIdentityV2.cpp parseID`,
      input: (w) => ({
        collateral: withQeIdentity(w, (o) => {
          o.id = id;
        }),
      }),
      expect: fails(code!),
    }),
  ),
  {
    name: "QE identity version 3",
    rule: `${L}/Verifiers/EnclaveIdentityParser.cpp (only V2)`,
    input: (w) => ({
      collateral: withQeIdentity(w, (o) => {
        o.version = 3;
      }),
    }),
    expect: fails("QE_IDENTITY_UNSUPPORTED_VERSION"),
  },
  {
    name: "QE identity of another MRSIGNER",
    rule: `${L}/Verifiers/EnclaveReportVerifier.cpp 4.1.2.9.7`,
    input: (w) => ({
      collateral: withQeIdentity(w, (o) => {
        o.mrsigner = "AB".repeat(32);
      }),
    }),
    expect: fails("QE_IDENTITY_MISMATCH"),
  },
  ...[1, 70000].map(
    (v): Case => ({
      name: `QE identity isvprodid ${v}`,
      rule: `${L}/Verifiers/EnclaveReportVerifier.cpp 4.1.2.9.8 (getUintFieldOf)`,
      input: (w) => ({
        collateral: withQeIdentity(w, (o) => {
          o.isvprodid = v;
        }),
      }),
      expect: fails("QE_IDENTITY_MISMATCH"),
    }),
  ),
  {
    name: "duplicate isvprodid, 1 first (signed): the first wins",
    rule: `${L}/Utils/JsonParser.cpp getUintFieldOf via operator[] (first member)`,
    input: (w) => ({
      collateral: withQeIdentity(w, (_o, t) => t.replace('"isvprodid":2', '"isvprodid":1,"isvprodid":2')),
    }),
    expect: fails("QE_IDENTITY_MISMATCH"),
  },
  {
    name: "miscselect 00000001 under mask FFFFFFFF",
    rule: `${L}/Verifiers/EnclaveReportVerifier.cpp 4.1.2.9.5`,
    input: (w) => ({
      collateral: withQeIdentity(w, (o) => {
        o.miscselect = "00000001";
      }),
    }),
    expect: fails("QE_IDENTITY_MISMATCH"),
  },
  {
    name: "attributes and mask all zero: anything matches",
    rule: `${L}/Verifiers/EnclaveReportVerifier.cpp 4.1.2.9.6 applyMask`,
    input: (w) => ({
      collateral: withQeIdentity(w, (o) => {
        o.attributes = "00".repeat(16);
        o.attributesMask = "00".repeat(16);
      }),
    }),
    expect: UP,
  },
  {
    name: "attributes with the DEBUG bit expected",
    rule: `${L}/Verifiers/EnclaveReportVerifier.cpp 4.1.2.9.6`,
    input: (w) => ({
      collateral: withQeIdentity(w, (o) => {
        o.attributes = `13${"00".repeat(15)}`;
      }),
    }),
    expect: fails("QE_IDENTITY_MISMATCH"),
  },
  {
    name: "a miscselect of 7 hex digits",
    rule: `${L}/Utils/JsonParser.cpp getHexstringFieldOf (exact length)`,
    input: (w) => ({
      collateral: withQeIdentity(w, (o) => {
        o.miscselect = "0000000";
      }),
    }),
    expect: fails("QE_IDENTITY_MALFORMED"),
  },
  {
    name: "QE levels' advisoryIDs not an array: QVL does not read them",
    rule: `${L}/Verifiers/EnclaveIdentityV2.cpp parseTcbLevels (no advisoryIDs)`,
    input: (w) => ({
      collateral: withQeIdentity(w, (o) => {
        qeLevels(o)[0]!.advisoryIDs = 5;
      }),
    }),
    expect: UP,
  },
  {
    name: "QE level tcbDate without seconds",
    rule: `${L}/Utils/JsonParser.cpp getDateFieldOf; Utils/TimeUtils.cpp`,
    input: (w) => ({
      collateral: withQeIdentity(w, (o) => {
        qeLevels(o)[0]!.tcbDate = "2024-11-13T00:00Z";
      }),
    }),
    expect: fails("QE_IDENTITY_MALFORMED"),
  },
  {
    name: "no QE level",
    rule: `${L}/Verifiers/EnclaveIdentityV2.cpp "must be a non empty array"`,
    input: (w) => ({
      collateral: withQeIdentity(w, (o) => {
        o.tcbLevels = [];
      }),
    }),
    expect: fails("QE_IDENTITY_MALFORMED"),
  },
  {
    name: "tcbEvaluationDataNumber 18.0",
    rule: `${L}/Verifiers/EnclaveIdentityV2.cpp getUintFieldOf`,
    input: (w) => ({
      collateral: withQeIdentity(w, (_o, t) =>
        t.replace('"tcbEvaluationDataNumber":18', '"tcbEvaluationDataNumber":18.0'),
      ),
    }),
    expect: fails("QE_IDENTITY_MALFORMED"),
  },
  {
    name: "QE Identity nextUpdate before now: expired collateral, verdict kept",
    rule: `${L}/Verifiers/EnclaveIdentityVerifier.cpp expirationDate > nextUpdate (SGX_ENCLAVE_IDENTITY_EXPIRED)`,
    input: (w) => ({
      collateral: withQeIdentity(w, (o) => {
        o.nextUpdate = "2026-06-01T11:59:59Z";
      }),
    }),
    expect: { ...UP, collateralExpired: true, expiredItems: ["qeIdentity.nextUpdate"] },
  },
  {
    name: "re-indented QE Identity signed over its pretty-printed bytes",
    rule: `${L}/Verifiers/EnclaveIdentityV2.cpp body = compact Writer`,
    input: (w) => ({ collateral: withQeIdentity(w, (_o, t) => JSON.stringify(JSON.parse(t), null, 1)) }),
    expect: fails("QE_IDENTITY_SIGNATURE_INVALID"),
  },
];

// ---------------------------------------------------------------- CRLs and revocation

const HOUR = 3600_000;
const DAY = 24 * HOUR;
const later = (w: SimWorld, ms: number) => new Date(w.now.getTime() + ms);

const crlCases: Case[] = [
  {
    name: "PCK CRL issued an hour after now (thisUpdate > now): expired collateral, TCB status kept",
    rule: `${L}/PckParser/CrlStore.cpp expired -> !Validity::isValid (PckParser.cpp); PckCertVerifier.cpp SGX_CRL_EXPIRED`,
    input: async (w) => ({
      collateral: { ...w.collateral, pckCrl: await crl(w, "platform", { thisUpdate: later(w, HOUR) }) },
    }),
    expect: { ...UP, collateralExpired: true, expiredItems: ["pckCrl.thisUpdate"] },
  },
  {
    name: "Root CA CRL issued a second after now",
    rule: `${L}/PckParser/CrlStore.cpp expired; TCBInfoVerifier.cpp / EnclaveIdentityVerifier.cpp rootCaCrl.expired`,
    input: async (w) => ({
      collateral: { ...w.collateral, rootCaCrl: await crl(w, "root", { thisUpdate: later(w, 1000) }) },
    }),
    expect: { ...UP, collateralExpired: true, expiredItems: ["rootCaCrl.thisUpdate"] },
  },
  {
    name: "PCK CRL issued exactly at now: valid (thisUpdate <= now)",
    rule: `${L}/PckParser/PckParser.cpp Validity::isValid (expirationDate >= notBeforeTime)`,
    input: async (w) => ({
      collateral: { ...w.collateral, pckCrl: await crl(w, "platform", { thisUpdate: w.now }) },
    }),
    expect: UP,
  },
  {
    name: "PCK CRL past its nextUpdate",
    rule: `${L}/PckParser/PckParser.cpp Validity::isValid (expirationDate <= notAfterTime)`,
    input: async (w) => ({
      collateral: {
        ...w.collateral,
        pckCrl: await crl(w, "platform", { thisUpdate: later(w, -2 * DAY), nextUpdate: later(w, -1000) }),
      },
    }),
    expect: { ...UP, collateralExpired: true, expiredItems: ["pckCrl.nextUpdate"] },
  },
  {
    name: "a PCK CRL without nextUpdate",
    rule: `${L}/PckParser/PckParser.cpp getValidity (no nextUpdate: FormatException, SGX_CRL_UNSUPPORTED_FORMAT)`,
    input: async (w) => ({
      collateral: { ...w.collateral, pckCrl: await customCrl(w, { nextUpdate: false, crlNumber: true }) },
    }),
    expect: fails("CRL_MALFORMED"),
  },
  {
    name: "a PCK CRL without CRL Number",
    rule: `${L}/Verifiers/PckCrlVerifier.cpp CRL_REQUIRED_EXTENSIONS (SGX_CRL_INVALID_EXTENSIONS)`,
    input: async (w) => ({
      collateral: { ...w.collateral, pckCrl: await customCrl(w, { nextUpdate: true, crlNumber: false }) },
    }),
    expect: fails("CRL_MALFORMED"),
  },
  {
    name: "the PCK CRL of the other CA (Processor)",
    rule: `${L}/Verifiers/PckCrlVerifier.cpp SGX_CRL_UNKNOWN_ISSUER`,
    input: (w) => ({ collateral: { ...w.collateral, pckCrl: w.pckCrls.processor } }),
    expect: fails("CRL_UNKNOWN_ISSUER"),
  },
  {
    name: "a PCK CRL naming the Platform CA, signed by the Processor CA key",
    rule: `${L}/Verifiers/PckCrlVerifier.cpp SGX_CRL_INVALID_SIGNATURE`,
    input: async (w) => ({
      collateral: {
        ...w.collateral,
        pckCrl: await customCrl(w, { nextUpdate: true, crlNumber: true, key: w.keys.processorCa }),
      },
    }),
    expect: fails("CRL_SIGNATURE_INVALID"),
  },
  {
    name: "the Root CA CRL as the PCK CRL",
    rule: `${L}/Verifiers/PckCrlVerifier.cpp SGX_CRL_UNKNOWN_ISSUER`,
    input: (w) => ({ collateral: { ...w.collateral, pckCrl: w.collateral.rootCaCrl } }),
    expect: fails("CRL_UNKNOWN_ISSUER"),
  },
  {
    name: "zero bytes after the PCK CRL's DER (the C-string terminator)",
    rule: `${L}/PckParser/PckParser.cpp str2X509Crl (d2i_X509_CRL_bio reads one CRL)`,
    input: (w) => ({
      collateral: { ...w.collateral, pckCrl: Uint8Array.from([...w.collateral.pckCrl, 0, 0]) },
    }),
    expect: UP,
  },
  {
    name: "a second CRL appended to the PCK CRL: refused (documented departure: it could hide revocations)",
    rule: `${L}/PckParser/PckParser.cpp str2X509Crl would read the first only; docs/verify.md "Intel's rules"`,
    input: (w) => ({
      collateral: {
        ...w.collateral,
        pckCrl: Uint8Array.from([...w.collateral.pckCrl, ...w.pckCrls.processor]),
      },
    }),
    expect: fails("DER_MALFORMED"),
  },
  {
    name: "the PCK revoked",
    rule: `${L}/Verifiers/PckCertVerifier.cpp SGX_PCK_REVOKED`,
    input: async (w) => ({
      collateral: { ...w.collateral, pckCrl: await crl(w, "platform", { revoked: [w.p.certs.pck.serial] }) },
    }),
    expect: fails("PCK_REVOKED"),
  },
  {
    name: "the Platform CA revoked",
    rule: `${L}/Verifiers/PckCertVerifier.cpp SGX_INTERMEDIATE_CA_REVOKED`,
    input: async (w) => ({
      collateral: {
        ...w.collateral,
        rootCaCrl: await crl(w, "root", { revoked: [w.p.certs.platformCa.serial] }),
      },
    }),
    expect: fails("INTERMEDIATE_CA_REVOKED"),
  },
  {
    name: "the TCB Signing certificate revoked",
    rule: `${L}/Verifiers/TCBSigningChain.cpp SGX_TCB_SIGNING_CERT_REVOKED`,
    input: async (w) => ({
      collateral: {
        ...w.collateral,
        rootCaCrl: await crl(w, "root", { revoked: [w.p.certs.tcbSigning.serial] }),
      },
    }),
    expect: fails("TCB_SIGNING_CERT_REVOKED"),
  },
  {
    name: "the Processor CA revoked (another CA): nothing to do with this platform",
    rule: `${L}/Verifiers/PckCertVerifier.cpp rootCaCrl.isRevoked(intermediate)`,
    input: async (w) => ({
      collateral: {
        ...w.collateral,
        rootCaCrl: await crl(w, "root", { revoked: [w.p.certs.processorCa.serial] }),
      },
    }),
    expect: UP,
  },
];

// ---------------------------------------------------------------- collateral issuer chains

const chainCases: Case[] = [
  {
    name: "no pck_crl_issuer_chain: Intel does not read it",
    rule: `${L}/QuoteVerification.cpp sgxAttestationVerifyPCKCertificate (PCK chain + CRLs)`,
    input: (w) => {
      const { pckCrlIssuerChain: _x, ...rest } = w.collateral;
      return { collateral: rest };
    },
    expect: UP,
  },
  {
    name: "no qe_identity_issuer_chain: the QE Identity is checked with the TCB Info chain",
    rule: `Src/AttestationApp/src/AppCore/AppCore.cpp verifyQeIdentity(tcbSigningChain); ${L}/Verifiers/EnclaveIdentityVerifier.cpp`,
    input: (w) => {
      const { qeIdentityIssuerChain: _x, ...rest } = w.collateral;
      return { collateral: rest };
    },
    expect: UP,
  },
  {
    name: "a pck_crl_issuer_chain holding other certificates: a named non-fatal check",
    rule: `${L}/QuoteVerification.cpp (not read); the disagreement is reported`,
    input: (w) => ({ collateral: { ...w.collateral, pckCrlIssuerChain: w.collateral.tcbInfoIssuerChain } }),
    expect: { ...UP, check: { name: "pckCrlIssuerChain.matchesPckChain", passed: false, nonFatal: true } },
  },
  {
    name: "an unusable qe_identity_issuer_chain: a named non-fatal check",
    rule: `AppCore.cpp (the TCB signing chain is used)`,
    input: (w) => ({
      collateral: { ...w.collateral, qeIdentityIssuerChain: "-----BEGIN CERTIFICATE-----\n@@@\n" },
    }),
    expect: {
      ...UP,
      check: { name: "qeIdentity.issuerChain.matchesTcbChain", passed: false, nonFatal: true },
    },
  },
  {
    name: "issuer chains that agree: the named checks pass",
    rule: `${L}/Verifiers/TCBSigningChain.cpp`,
    input: (w) => ({ collateral: w.collateral }),
    expect: { ...UP, check: { name: "pckCrlIssuerChain.matchesPckChain", passed: true } },
  },
  {
    name: "the TCB Info chain root first",
    rule: `${L}/CertVerification/CertificateChain.cpp (roles from the certificates, not the order)`,
    input: (w) => ({
      collateral: {
        ...w.collateral,
        tcbInfoIssuerChain: [...pemBlocks(w.collateral.tcbInfoIssuerChain)].reverse().join(""),
      },
    }),
    expect: UP,
  },
  {
    name: "the TCB Info chain with a third certificate",
    rule: `${L}/QuoteVerification.cpp EXPECTED_CERTIFICATE_COUNT_IN_TCB_CHAIN`,
    input: (w) => ({
      collateral: {
        ...w.collateral,
        tcbInfoIssuerChain: w.collateral.tcbInfoIssuerChain + w.p.certs.platformCa.pem,
      },
    }),
    expect: fails("ISSUER_CHAIN_INVALID"),
  },
  {
    name: "the TCB Info chain without its root",
    rule: `${L}/Verifiers/TCBSigningChain.cpp SGX_ROOT_CA_MISSING`,
    input: (w) => ({
      collateral: { ...w.collateral, tcbInfoIssuerChain: pemBlocks(w.collateral.tcbInfoIssuerChain)[0]! },
    }),
    expect: fails("ISSUER_CHAIN_INVALID"),
  },
  {
    name: "the Platform CA as the TCB Info signer",
    rule: `${L}/Verifiers/TCBSigningChain.cpp SGX_TCB_SIGNING_CERT_MISSING (CN "SGX TCB Signing")`,
    input: (w) => ({
      collateral: { ...w.collateral, tcbInfoIssuerChain: w.p.certs.platformCa.pem + w.p.certs.root.pem },
    }),
    expect: fails("ISSUER_CHAIN_INVALID"),
  },
  {
    name: "tabs and spaces inside the TCB Info chain's base64, text between its blocks",
    rule: `${L}/CertVerification/CertificateChain.cpp splitChain; PEM_read_bio_X509 (EVP_DecodeUpdate whitespace)`,
    input: (w) => {
      const [a, b] = pemBlocks(w.collateral.tcbInfoIssuerChain);
      const tabbed = a!.replace(/\n([A-Za-z0-9+/=]{10})/g, "\n\t$1 ");
      return {
        collateral: { ...w.collateral, tcbInfoIssuerChain: `${tabbed}subject=Intel SGX Root CA\n${b}` },
      };
    },
    expect: UP,
  },
];

// ---------------------------------------------------------------- PCK certificate and chain

const sgx = (suffix: string) => oid(`1.2.840.113741.1.13.1.${suffix}`);
/** The platform's SGX extension entries (PPID, TCB, PCE-ID, FMSPC, SGX type, instance id, configuration). */
function extensionEntries(w: SimWorld): Uint8Array[] {
  const der = encodeSgxExtension(pckValues(w));
  const out: Uint8Array[] = [];
  let p = 2 + (der[1]! & 0x80 ? der[1]! & 0x7f : 0);
  while (p < der.length) {
    const long = der[p + 1]! & 0x80;
    const len = long
      ? der.subarray(p + 2, p + 2 + (der[p + 1]! & 0x7f)).reduce((a, b) => a * 256 + b, 0)
      : der[p + 1]!;
    const hdr = 2 + (long ? der[p + 1]! & 0x7f : 0);
    out.push(der.subarray(p, p + hdr + len));
    p += hdr + len;
  }
  return out;
}
const withPck = async (w: SimWorld, opts: Parameters<typeof pckCert>[1]) => {
  const [_pck, ca, root] = pckChainPems(w);
  return { quote: quoteWithChain(w, [await pckCert(w, opts), ca!, root!]) };
};

const pckCases: Case[] = [
  {
    name: "a re-issued PCK certificate (the harness itself)",
    rule: `${L}/Verifiers/PckCertVerifier.cpp`,
    input: (w) => withPck(w, {}),
    expect: UP,
  },
  {
    name: "Platform-CA PCK without PlatformInstanceID (6 entries)",
    rule: `${P}/X509/PckCertificate.cpp setMembers (PROCESSOR_CA_EXTENSION_COUNT 5 / PLATFORM_CA_EXTENSION_COUNT 7)`,
    input: (w) => withPck(w, { sgxExtension: sequence(...extensionEntries(w).filter((_e, i) => i !== 5)) }),
    expect: fails("PCK_EXTENSION_MALFORMED"),
  },
  {
    name: "Platform-CA PCK without Configuration (6 entries)",
    rule: `${P}/X509/PckCertificate.cpp setMembers`,
    input: (w) => withPck(w, { sgxExtension: sequence(...extensionEntries(w).slice(0, 6)) }),
    expect: fails("PCK_EXTENSION_MALFORMED"),
  },
  {
    name: "Platform-CA PCK with 5 entries: the count QVL allows (not tied to the CA)",
    rule: `${P}/X509/PckCertificate.cpp setMembers (5 or 7)`,
    input: (w) => withPck(w, { sgxExtension: sequence(...extensionEntries(w).slice(0, 5)) }),
    expect: UP,
  },
  {
    name: "7 entries, two of them unknown OIDs",
    rule: `${P}/X509/PckCertificate.cpp setMembers (unknown OIDs ignored)`,
    input: (w) => {
      const unknown = sequence(sgx("9"), octetString(new Uint8Array(2)));
      return withPck(w, { sgxExtension: sequence(...extensionEntries(w).slice(0, 5), unknown, unknown) });
    },
    expect: UP,
  },
  {
    name: "SGX type 7",
    rule: `${P}/X509/PckCertificate.cpp static_cast<SgxType>(oidToEnum) (not checked)`,
    input: (w) => {
      const e = extensionEntries(w);
      e[4] = sequence(sgx("5"), enumerated(7));
      return withPck(w, { sgxExtension: sequence(...e) });
    },
    expect: UP,
  },
  {
    name: "PCK SGX component SVN 259 (read as uint8_t 3)",
    rule: `${P}/X509/Tcb.cpp oidToByte (static_cast<uint8_t>)`,
    input: (w) =>
      withPck(w, {
        sgxExtension: encodeSgxExtension({
          ...pckValues(w),
          sgxTcbComponents: [259, ...pckValues(w).sgxTcbComponents.slice(1)],
        }),
      }),
    expect: UP,
  },
  {
    name: "PCK PCESVN 12: below the top and previous levels (13), the PCESVN 5 level matches",
    rule: `${L}/Verifiers/Checks/TcbLevelCheck.cpp matchTcbLevels`,
    input: (w) => withPck(w, { sgxExtension: encodeSgxExtension({ ...pckValues(w), pceSvn: 12 }) }),
    expect: status("OutOfDate"),
  },
  {
    name: "PCK SGX component 0 at 2: below top, the previous level matches",
    rule: `${L}/Verifiers/Checks/TcbLevelCheck.cpp isCpuSvnHigherOrEqual`,
    input: (w) =>
      withPck(w, {
        sgxExtension: encodeSgxExtension({
          ...pckValues(w),
          sgxTcbComponents: [2, 2, 2, 2, 3, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0],
        }),
      }),
    expect: status("OutOfDate"),
  },
  {
    name: "PCK of another FMSPC",
    rule: `${L}/Verifiers/QuoteVerifier.cpp 4.1.2.4.10`,
    input: (w) =>
      withPck(w, {
        sgxExtension: encodeSgxExtension({
          ...pckValues(w),
          fmspc: Uint8Array.from([0, 0x90, 0x6e, 0xd5, 0, 0]),
        }),
      }),
    expect: fails("TCB_INFO_MISMATCH"),
  },
  {
    name: "PCK not valid before tomorrow: notBefore is not checked",
    rule: `${L}/Verifiers/PckCertVerifier.cpp (notAfter only)`,
    input: (w) => withPck(w, { notBefore: later(w, DAY) }),
    expect: UP,
  },
  {
    name: "PCK expired a second ago",
    rule: `${L}/Verifiers/PckCertVerifier.cpp SGX_PCK_CERT_CHAIN_EXPIRED (non-terminal)`,
    input: (w) => withPck(w, { notBefore: later(w, -DAY), notAfter: later(w, -1000) }),
    expect: { ...UP, collateralExpired: true, expiredItems: ["pckChain.pck.notAfter"] },
  },
  ...[
    ["2.5.29.31", "CRL distribution points"],
    ["2.5.29.35", "authority key identifier"],
    ["2.5.29.14", "subject key identifier"],
    ["2.5.29.15", "key usage"],
    ["2.5.29.19", "basic constraints"],
  ].map(
    ([o, what]): Case => ({
      name: `PCK without the ${what} extension`,
      rule: `${P}/X509Constants.h REQUIRED_X509_EXTENSIONS; ${P}/X509/Certificate.cpp setExtensions`,
      input: (w) => withPck(w, { omit: [o!] }),
      expect: fails("CERT_EXTENSION_MISSING"),
    }),
  ),
  ...[
    [0, 1, 2],
    [0, 2, 1],
    [1, 0, 2],
    [1, 2, 0],
    [2, 0, 1],
    [2, 1, 0],
  ].map(
    (order): Case => ({
      name: `PCK chain in order ${order.join("")}`,
      rule: `${L}/CertVerification/CertificateChain.cpp (root, intermediate, PCK found by their names)`,
      input: (w) => ({
        quote: quoteWithChain(
          w,
          order.map((i) => pckChainPems(w)[i]!),
        ),
      }),
      expect: UP,
    }),
  ),
  {
    name: "PCK chain with tabs inside the base64",
    rule: `CertificateChain.cpp / PEM_read_bio_X509 (EVP_DecodeUpdate: tab is whitespace)`,
    input: (w) => ({
      quote: quoteWithChain(
        w,
        pckChainPems(w).map((p) => p.replace(/\n([A-Za-z0-9+/=]{8})/g, "\n$1\t")),
      ),
    }),
    expect: UP,
  },
  {
    name: "PCK chain of 2 certificates",
    rule: `${L}/QuoteVerification.cpp EXPECTED_CERTIFICATE_COUNT_IN_PCK_CHAIN (3)`,
    input: (w) => ({ quote: quoteWithChain(w, pckChainPems(w).slice(0, 2)) }),
    expect: fails("PCK_CHAIN_INCOMPLETE"),
  },
  {
    name: "PCK chain with the root twice (4 certificates)",
    rule: `${L}/QuoteVerification.cpp EXPECTED_CERTIFICATE_COUNT_IN_PCK_CHAIN (3)`,
    input: (w) => ({ quote: quoteWithChain(w, [...pckChainPems(w), pckChainPems(w)[2]!]) }),
    expect: fails("PCK_CHAIN_INCOMPLETE"),
  },
  ...["Intel SGX PCK CA", "Intel SGX PCK PLATFORM CA"].map(
    (cn): Case => ({
      name: `PCK certificate under a CA named "${cn}": the name is not checked`,
      rule: `${L}/Verifiers/PckCertVerifier.cpp, ${L}/CertVerification/CertificateChain.cpp (only "CA" in the intermediate's CN; Platform/Processor only picks the CRL to fetch)`,
      input: (w) => pckChainUnderCa(w, cn),
      expect: UP,
    }),
  ),
  {
    name: "PCK chain ending in the Processor CA instead of the Platform CA",
    rule: `${L}/Verifiers/PckCertVerifier.cpp verifyPCKCert (SGX_PCK_INVALID_ISSUER)`,
    input: (w) => ({
      quote: quoteWithChain(w, [w.p.certs.pck.pem, w.p.certs.processorCa.pem, w.p.certs.root.pem]),
    }),
    expect: fails("PCK_CHAIN_INVALID_SIGNATURE"),
  },
];

// ---------------------------------------------------------------- the quote

const quoteCases: Case[] = [
  {
    name: "SEAMATTRIBUTES not zero",
    rule: `${L}/Verifiers/QuoteVerifier.cpp 4.1.2.4.11.2 (each byte 0 and equal)`,
    input: (w) => ({
      quote: requote(w, {
        body: (r) => {
          r.seamAttributes = Uint8Array.of(1, 0, 0, 0, 0, 0, 0, 0);
        },
      }),
    }),
    expect: fails("TDX_MODULE_MISMATCH"),
  },
  {
    name: "MRSIGNERSEAM not Intel's",
    rule: `${L}/Verifiers/QuoteVerifier.cpp 4.1.2.4.11.1`,
    input: (w) => ({
      quote: requote(w, {
        body: (r) => {
          r.mrSignerSeam = new Uint8Array(48).fill(1);
        },
      }),
    }),
    expect: fails("TDX_MODULE_MISMATCH"),
  },
  ...(
    [
      [[6, 3, 3], UP, "TDX_03 (level 3 UpToDate)"],
      [[6, 2, 3], fails("TDX_MODULE_MISMATCH"), "TDX_02 is not listed"],
      [[6, 0, 3], UP, "TEE_TCB_SVN[1] = 0: tdxModule, all 16 bytes compared, module status UpToDate"],
      [[4, 1, 3], status("OutOfDate"), "module SVN 4: TDX_01 level 4 OutOfDate"],
      [[1, 1, 3], fails("TDX_MODULE_TCB_LEVEL_NOT_FOUND"), "module SVN 1: below every TDX_01 level"],
      [[6, 1, 2], status("OutOfDate"), "microcode 2: the previous TDX level"],
      [[6, 1, 1], fails("TCB_LEVEL_NOT_FOUND"), "microcode 1: no TDX level"],
      [[4, 0, 3], fails("TCB_LEVEL_NOT_FOUND"), "TEE_TCB_SVN[1] = 0 and byte 0 (4) below every level's 5"],
    ] as const
  ).map(
    ([svn, want, why]): Case => ({
      name: `TEE_TCB_SVN ${svn.join(",")}: ${why}`,
      rule: `${L}/Verifiers/Checks/TcbLevelCheck.cpp isTdxTcbHigherOrEqual; TdxModuleCheck.cpp checkTdxModuleTcbStatus`,
      input: (w) => ({ quote: requote(w, { body: (r) => void r.teeTcbSvn.set(svn, 0) }) }),
      expect: want,
    }),
  ),
  {
    name: "QE REPORTDATA bytes 32..64 not zero (QE report re-signed): QVL compares bytes 0..32",
    rule: `${L}/Verifiers/QuoteVerifier.cpp 4.1.2.4.13 (std::equal over the 32-byte digest)`,
    input: (w) => ({ quote: requote(w, { qeReport: (r) => void r.reportData.fill(0xee, 32) }) }),
    expect: UP,
  },
  {
    name: "QE REPORTDATA byte 0 changed (QE report re-signed)",
    rule: `${L}/Verifiers/QuoteVerifier.cpp 4.1.2.4.13 (STATUS_INVALID_QE_REPORT_DATA)`,
    input: (w) => ({
      quote: requote(w, {
        qeReport: (r) => {
          r.reportData[0]! ^= 1;
        },
      }),
    }),
    expect: fails("QE_REPORT_DATA_MISMATCH"),
  },
  {
    name: "QE ISVSVN 3 (re-signed): below the QE identity's only level (4)",
    rule: `${L}/Verifiers/EnclaveReportVerifier.cpp ISVSVN_NOT_SUPPORTED -> TCB_NOT_SUPPORTED`,
    input: (w) => ({
      quote: requote(w, {
        qeReport: (r) => {
          r.isvSvn = 3;
        },
      }),
    }),
    expect: fails("QE_TCB_LEVEL_NOT_FOUND"),
  },
  {
    name: "QE MISCSELECT 1 (re-signed)",
    rule: `${L}/Verifiers/EnclaveReportVerifier.cpp 4.1.2.9.5`,
    input: (w) => ({
      quote: requote(w, {
        qeReport: (r) => {
          r.miscSelect = 1;
        },
      }),
    }),
    expect: fails("QE_IDENTITY_MISMATCH"),
  },
  {
    name: "QE ATTRIBUTES with DEBUG (re-signed)",
    rule: `${L}/Verifiers/EnclaveReportVerifier.cpp 4.1.2.9.6`,
    input: (w) => ({
      quote: requote(w, {
        qeReport: (r) => {
          r.attributes[0]! |= 0x02;
        },
      }),
    }),
    expect: fails("QE_IDENTITY_MISMATCH"),
  },
  {
    name: "QE ATTRIBUTES bit 2 of byte 0 set (masked out by FB): ignored",
    rule: `${L}/Verifiers/EnclaveReportVerifier.cpp applyMask`,
    input: (w) => ({
      quote: requote(w, {
        qeReport: (r) => {
          r.attributes[0]! |= 0x04;
        },
      }),
    }),
    expect: UP,
  },
];

describe("differential family: Intel's rules on the simulated platform, re-signed", () => {
  let w: SimWorld;
  beforeAll(async () => {
    w = await simWorld();
  });

  const groups: [string, Case[]][] = [
    ["TCB Info", tcbInfoCases],
    ["TDX module identities", moduleCases],
    ["QE Identity", qeCases],
    ["CRLs", crlCases],
    ["issuer chains", chainCases],
    ["PCK certificate and chain", pckCases],
    ["quote", quoteCases],
  ];
  for (const [group, cases] of groups) {
    it.each(cases.map((c) => [c.name, c] as const))(`${group}: %s`, async (_n, c) => {
      const input = await c.input(w);
      const r = w.verifier.verify(input.quote ?? w.quote, input.collateral ?? w.collateral, {
        now: input.now ?? w.now,
      });
      const want = c.expect;
      const got = verdictOf(r);
      const { check, expiredItems, ...fields } = want;
      expect(pick(got, Object.keys(fields)), `${c.name} [${c.rule}]`).toEqual(fields);
      if (expiredItems) expect(r.expiredItems, c.rule).toEqual(expiredItems);
      if (check)
        expect(
          r.checks.find((x) => x.name === check.name),
          c.rule,
        ).toMatchObject(check);
    });
  }

  it("the base platform verifies UpToDate", () => {
    expect(verdictOf(w.verifier.verify(w.quote, w.collateral, { now: w.now }))).toEqual(UP);
  });
});

function pick(o: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((k) => [k, o[k]]));
}

describe("TD 1.5 relaunch check (checkForRelaunch), quote v5 body type 3, re-signed", () => {
  // Scenario td-relaunch-advised: TEE_TCB_SVN [4,1,3,..] (module TDX_01 at SVN 4: OutOfDate),
  // TEE_TCB_SVN2 [6,1,3,..] (the module loaded since, current): Intel advises a relaunch.
  let w: SimWorld;
  beforeAll(async () => {
    w = await simWorld(undefined, { scenario: "td-relaunch-advised", quoteVersion: 5 });
  });
  const svn2Major = (major: number) =>
    requote(w, {
      body: (r) => {
        r.teeTcbSvn2![1] = major;
      },
    });

  it("the scenario's quote gets TDRelaunchAdvised", () => {
    expect(verdictOf(w.verifier.verify(w.quote, w.collateral, { now: w.now }))).toEqual({
      ok: true,
      tcbStatus: "TDRelaunchAdvised",
      code: null,
      collateralExpired: false,
    });
  });

  // QVL TDRelaunchCheck.cpp checkForRelaunch: no identity for TEE_TCB_SVN2[1] -> STATUS_TDX_MODULE_MISMATCH;
  // TcbLevelCheck.cpp checkTcbLevel passes it to convergeTcbStatusWithQeTcbStatus, whose switch has no
  // case for it: STATUS_TCB_UNRECOGNIZED_STATUS (4.1.2.4.17.5) is Intel's verdict.
  it("a TEE_TCB_SVN2 module version the TCB Info has no identity for: Intel's unrecognized status", () => {
    const r = w.verifier.verify(svn2Major(2), w.collateral, { now: w.now });
    expect(verdictOf(r)).toMatchObject({ ok: false, tcbStatus: null, code: "TCB_STATUS_UNRECOGNIZED" });
    expect(r.checks.find((c) => !c.passed)?.name).toBe("tdxModule.relaunch");
    expect(r.error?.data?.intelStatus).toBe("STATUS_TCB_UNRECOGNIZED_STATUS");
  });

  it("the same quote once the TCB Info has that identity: the relaunch advice again", () => {
    const collateral = withTcbInfo(w, (o) => {
      const ids = o.tdxModuleIdentities as (Json & { id: string })[];
      ids.push({ ...structuredClone(ids.find((m) => m.id === "TDX_01")!), id: "TDX_02" });
      return undefined;
    });
    expect(verdictOf(w.verifier.verify(svn2Major(2), collateral, { now: w.now })).tcbStatus).toBe(
      "TDRelaunchAdvised",
    );
  });
});

describe("one trusted root per verification (several trust anchors configured)", () => {
  // Two simulated PKIs with the same names and different keys, both trusted. QVL TCBSigningChain::verify
  // requires the TCB Signing chain's root to be the verification's one trusted root (the QvE passes the
  // PCK chain's root), else STATUS_SGX_TCB_SIGNING_CERT_CHAIN_UNTRUSTED.
  let a: SimWorld;
  let b: SimWorld;
  let both: Verifier;
  beforeAll(async () => {
    a = await simWorld();
    b = await simWorld();
    both = new Verifier({ trustAnchors: [a.p.rootCaPem, b.p.rootCaPem] });
  });

  it("each platform verifies with both anchors trusted", () => {
    expect(verdictOf(both.verify(a.quote, a.collateral, { now: a.now }))).toEqual(UP);
    expect(verdictOf(both.verify(b.quote, b.collateral, { now: b.now }))).toEqual(UP);
  });

  it("TCB Info and QE Identity signed under the other root: refused", () => {
    const mixed = {
      ...a.collateral,
      tcbInfo: b.collateral.tcbInfo,
      tcbInfoSignature: b.collateral.tcbInfoSignature,
      tcbInfoIssuerChain: b.collateral.tcbInfoIssuerChain,
      qeIdentity: b.collateral.qeIdentity,
      qeIdentitySignature: b.collateral.qeIdentitySignature,
      qeIdentityIssuerChain: b.collateral.qeIdentityIssuerChain,
    };
    const r = both.verify(a.quote, mixed, { now: a.now });
    expect(verdictOf(r)).toMatchObject({ ok: false, tcbStatus: null, code: "UNTRUSTED_ROOT" });
    expect(r.checks.find((c) => !c.passed)?.name).toBe("tcbInfo.issuerChain");
    // The same collateral again, after a good verification of each: nothing cached lets it through.
    both.verify(b.quote, b.collateral, { now: b.now });
    expect(both.verify(a.quote, mixed, { now: a.now }).error?.code).toBe("UNTRUSTED_ROOT");
  });
});

describe("Intel's one STATUS_TCB_NOT_SUPPORTED behind three codes (error.data.intelStatus)", () => {
  let w: SimWorld;
  beforeAll(async () => {
    w = await simWorld();
  });
  // QVL TcbLevelCheck.cpp checkTcbLevel / TdxModuleCheck.cpp / EnclaveReportVerifier + convergeTcbStatusWithQeTcbStatus.
  it.each([
    [
      "no platform level",
      "TCB_LEVEL_NOT_FOUND",
      (o: Json) => {
        for (const l of levels(o)) l.tcb.pcesvn += 100;
      },
      undefined,
    ],
    [
      "no module level",
      "TDX_MODULE_TCB_LEVEL_NOT_FOUND",
      (o: Json) => {
        tdx01(o).tcbLevels = [{ ...tdx01(o).tcbLevels[0]!, tcb: { isvsvn: 7 } }];
      },
      undefined,
    ],
    [
      "no QE identity level",
      "QE_TCB_LEVEL_NOT_FOUND",
      undefined,
      (o: Json) => {
        for (const l of qeLevels(o)) l.tcb.isvsvn = 8;
      },
    ],
  ] as const)("%s: %s", (_n, code, tcbEdit, qeEdit) => {
    let collateral = w.collateral;
    if (tcbEdit) collateral = withTcbInfo(w, (o) => void tcbEdit(o));
    if (qeEdit) collateral = withQeIdentity(w, (o) => void qeEdit(o));
    const r = w.verifier.verify(w.quote, collateral, { now: w.now });
    expect(r.error?.code).toBe(code);
    expect(r.error?.data?.intelStatus).toBe("STATUS_TCB_NOT_SUPPORTED");
  });

  it("a Revoked verdict is not one of them", () => {
    const collateral = withTcbInfo(w, (o) => {
      for (const l of levels(o)) l.tcbStatus = "Revoked";
      return undefined;
    });
    const r = w.verifier.verify(w.quote, collateral, { now: w.now });
    expect(r.error?.code).toBe("TCB_REVOKED");
    expect(r.error?.data?.intelStatus).toBeUndefined();
  });
});
