import { hexOf } from "../encoding.js";
import { TdxError } from "../errors.js";
import { compactJson, type JsonObject, type JsonValue, memberOf, parseOrderedJson } from "./ordered-json.js";
import { QvlFields } from "./qvl-fields.js";

/**
 * Intel's signed TCB Info (v2/v3), read as QVL's parser reads it (QVL `AttestationParsers/src/Json/TcbInfo.cpp`,
 * `TcbLevel.cpp`, `TcbComponent.cpp`, `TdxModule.cpp`, `TdxModuleIdentity.cpp`, `TdxModuleTcb.cpp`,
 * `TdxModuleTcbLevel.cpp`): the first of duplicate members, rapidjson's number types, QVL's date grammar,
 * its status list and its two ordered sets. The values come from the parsed text, and the bytes Intel's
 * signature covers are rapidjson's compact re-serialisation of that same parse (`signedMessage`).
 */

/** TCB Info level statuses (QVL `TcbLevel::parseTcbLevelCommon` validStatuses; `Verifiers/TcbStatus.h`). */
export const TCB_STATUSES = [
  "UpToDate",
  "SWHardeningNeeded",
  "ConfigurationNeeded",
  "ConfigurationAndSWHardeningNeeded",
  "OutOfDate",
  "OutOfDateConfigurationNeeded",
  "Revoked",
] as const;
export type TcbLevelStatus = (typeof TCB_STATUSES)[number];

/** TDX module identity level statuses (QVL `Verifiers/TcbStatus.h` VALID_MODULE_TCB_STATUSES). */
export const TDX_MODULE_STATUSES = ["UpToDate", "OutOfDate", "Revoked"] as const;

export interface TcbLevel {
  /** SGX TCB component SVNs 1..16 (QVL keeps each as uint8_t: a JSON value is taken modulo 256). */
  sgxComponents: number[];
  pceSvn: number;
  /** TDX TCB component SVNs (TDX TCB Info only; uint8_t like the SGX ones). */
  tdxComponents: number[] | null;
  tcbDate: string;
  /** One of TCB_STATUSES (QVL refuses the TCB Info otherwise). */
  tcbStatus: string;
  advisoryIds: string[];
}

export interface TdxModuleTcbLevel {
  isvSvn: number;
  tcbDate: string;
  /** Any string: QVL checks it against UpToDate/OutOfDate/Revoked only when the level is used. */
  tcbStatus: string;
  advisoryIds: string[];
}

export interface TdxModuleIdentity {
  /** e.g. "TDX_01"; "" for the top-level `tdxModule`. */
  id: string;
  mrSigner: Uint8Array;
  attributes: Uint8Array;
  attributesMask: Uint8Array;
  /** Sorted by isvsvn descending (QVL keeps them in a set ordered that way). */
  tcbLevels: TdxModuleTcbLevel[];
}

export interface TcbInfo {
  id: "SGX" | "TDX";
  version: number;
  issueDate: number;
  nextUpdate: number;
  issueDateText: string;
  nextUpdateText: string;
  /** Lowercase hex. */
  fmspc: string;
  /** Lowercase hex. */
  pceId: string;
  tcbType: number;
  tcbEvaluationDataNumber: number;
  tdxModule: TdxModuleIdentity | null;
  tdxModuleIdentities: TdxModuleIdentity[] | null;
  /** Sorted descending as QVL's std::set orders them. */
  tcbLevels: TcbLevel[];
}

/** A signed JSON document as QVL reads it: its values, and the exact bytes its signature must cover. */
export interface SignedJson<T> {
  value: T;
  /** rapidjson's compact re-serialisation of the parsed object (equal to the text for Intel's responses). */
  signedMessage: string;
}

/** QVL's TCB Info writer keeps up to 25 decimals (`writer.SetMaxDecimalPlaces(25)` in Json/TcbInfo.cpp). */
const TCB_INFO_DECIMAL_PLACES = 25;

function compareVectors(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * Sort `list` into QVL's order for a std::set with that comparison, refusing (as QVL's parser does) an
 * element equal to another under it.
 */
function sortAsSet<T>(
  r: QvlFields,
  list: T[],
  compare: (a: T, b: T) => number,
  field: string,
  duplicate: (item: T) => string,
): void {
  list.sort(compare);
  for (let i = 1; i < list.length; i++) {
    if (compare(list[i - 1]!, list[i]!) === 0) throw r.fail(field, duplicate(list[i]!));
  }
}

/**
 * QVL's `TcbLevel::operator>` (descending): SGX component SVNs, then for TDX v3 with equal PCESVN the TDX
 * component SVNs, otherwise PCESVN.
 */
function compareLevelsDescending(x: TcbLevel, y: TcbLevel): number {
  const s = compareVectors(y.sgxComponents, x.sgxComponents);
  if (s !== 0) return s;
  if (x.pceSvn !== y.pceSvn) return y.pceSvn - x.pceSvn;
  return compareVectors(y.tdxComponents ?? [], x.tdxComponents ?? []);
}

/** TcbComponent: an object with `svn` (IsUint, kept as uint8_t) and optional string `category`/`type`. */
function parseComponents(r: QvlFields, v: JsonValue | undefined, field: string): number[] {
  const a = r.arr(v, field);
  if (a.length !== 16) throw r.fail(field, "must have 16 components");
  // The checks of r.obj / r.uint / r.optionalStr, inline: field names are built only for an error
  // (32 components per TCB level).
  const out: number[] = [];
  for (let i = 0; i < 16; i++) {
    const c = a[i]!;
    if (c.kind !== "object") throw r.fail(`${field}[${i}]`, "must be an object");
    let svn: JsonValue | undefined;
    let category: JsonValue | undefined;
    let type: JsonValue | undefined;
    for (let k = 0; k < c.keys.length; k++) {
      const key = c.keys[k];
      if (key === "svn") svn ??= c.values[k];
      else if (key === "category") category ??= c.values[k];
      else if (key === "type") type ??= c.values[k];
    }
    if (svn?.kind !== "number" || !svn.isUint) {
      throw r.fail(`${field}[${i}].svn`, "must be an integer 0..4294967295");
    }
    if (category !== undefined && category.kind !== "string") {
      throw r.fail(`${field}[${i}].category`, "must be a string");
    }
    if (type !== undefined && type.kind !== "string") throw r.fail(`${field}[${i}].type`, "must be a string");
    out.push(svn.value & 0xff);
  }
  return out;
}

/** TdxModule (`withLevels` false) or TdxModuleIdentity (`withLevels` true). */
function parseModuleIdentity(
  r: QvlFields,
  v: JsonValue | undefined,
  field: string,
  withLevels: boolean,
): TdxModuleIdentity {
  const o = r.obj(v, field);
  const out: TdxModuleIdentity = {
    id: withLevels ? r.str(o, "id", `${field}.id`) : "",
    mrSigner: r.hex(o, "mrsigner", 96, `${field}.mrsigner`),
    attributes: r.hex(o, "attributes", 16, `${field}.attributes`),
    attributesMask: r.hex(o, "attributesMask", 16, `${field}.attributesMask`),
    tcbLevels: [],
  };
  if (!withLevels) return out;
  out.tcbLevels = r.arr(memberOf(o, "tcbLevels"), `${field}.tcbLevels`).map((lv, i) => {
    const f = `${field}.tcbLevels[${i}]`;
    const l = r.obj(lv, f);
    // TdxModuleTcb: isvsvn via getIntFieldOf, then 0..UINT16_MAX.
    const isvSvn = r.int(r.obj(memberOf(l, "tcb"), `${f}.tcb`), "isvsvn", `${f}.tcb.isvsvn`);
    if (isvSvn < 0 || isvSvn > 0xffff) throw r.fail(`${f}.tcb.isvsvn`, "must be within 0..65535");
    return {
      isvSvn,
      tcbDate: r.date(l, "tcbDate", `${f}.tcbDate`).text,
      tcbStatus: r.str(l, "tcbStatus", `${f}.tcbStatus`),
      advisoryIds: r.advisories(l, f),
    };
  });
  if (out.tcbLevels.length === 0) throw r.fail(`${field}.tcbLevels`, "is empty");
  // QVL keeps module levels in a set ordered by isvsvn: a second level with the same isvsvn is refused.
  sortAsSet(
    r,
    out.tcbLevels,
    (a, b) => b.isvSvn - a.isvSvn,
    `${field}.tcbLevels`,
    (l) => `has two levels with isvsvn ${l.isvSvn}`,
  );
  return out;
}

function parseLevel(r: QvlFields, lv: JsonValue, i: number, version: number, id: "SGX" | "TDX"): TcbLevel {
  const f = `tcbLevels[${i}]`;
  const l = r.obj(lv, f);
  // parseTcbLevelCommon: tcbDate, advisoryIDs, then the status list.
  const tcbDate = r.date(l, "tcbDate", `${f}.tcbDate`).text;
  const advisoryIds = r.advisories(l, f);
  const tcbStatus = r.str(l, "tcbStatus", `${f}.tcbStatus`);
  if (!(TCB_STATUSES as readonly string[]).includes(tcbStatus)) {
    throw r.fail(`${f}.tcbStatus`, `"${tcbStatus}" is not a TCB status`);
  }
  const tcb = r.obj(memberOf(l, "tcb"), `${f}.tcb`);
  let sgxComponents: number[];
  let tdxComponents: number[] | null = null;
  if (version === 2) {
    sgxComponents = [];
    for (let c = 1; c <= 16; c++) {
      const k = `sgxtcbcomp${String(c).padStart(2, "0")}svn`;
      sgxComponents.push(r.uint(tcb, k, `${f}.tcb.${k}`) & 0xff);
    }
  } else {
    sgxComponents = parseComponents(r, memberOf(tcb, "sgxtcbcomponents"), `${f}.tcb.sgxtcbcomponents`);
    if (id === "TDX") {
      tdxComponents = parseComponents(r, memberOf(tcb, "tdxtcbcomponents"), `${f}.tcb.tdxtcbcomponents`);
    }
  }
  return {
    sgxComponents,
    pceSvn: r.uint(tcb, "pcesvn", `${f}.tcb.pcesvn`),
    tdxComponents,
    tcbDate,
    tcbStatus,
    advisoryIds,
  };
}

function readTcbInfoObject(o: JsonObject): TcbInfo {
  const r = new QvlFields("TCB_INFO_MALFORMED", "tcbInfo");
  const versionValue = memberOf(o, "version");
  if (versionValue === undefined) throw r.fail("version", "is missing");
  const version = r.uint(o, "version");
  if (version !== 2 && version !== 3) {
    throw new TdxError(
      "TCB_INFO_UNSUPPORTED_VERSION",
      `TCB Info version ${version} is not supported (2 or 3)`,
      {
        field: "tcbInfo.version",
        hint: "fetch TCB Info from the PCS v3/v4 API (version 2 or 3)",
      },
    );
  }
  let id: "SGX" | "TDX" = "SGX";
  if (version === 3) {
    const s = r.str(o, "id");
    if (s !== "SGX" && s !== "TDX") throw r.fail("id", `must be "SGX" or "TDX", got "${s}"`);
    id = s;
  }
  const issue = r.date(o, "issueDate");
  const next = r.date(o, "nextUpdate");
  const fmspc = hexOf(r.hex(o, "fmspc", 12));
  const pceId = hexOf(r.hex(o, "pceId", 4));
  if (memberOf(o, "tcbLevels") === undefined) throw r.fail("tcbLevels", "is missing");
  // parsePartV2
  const tcbType = r.int(o, "tcbType");
  if (tcbType !== 0) throw r.fail("tcbType", `${tcbType} is not supported (QVL supports TCB type 0 only)`);
  const tcbEvaluationDataNumber = r.uint(o, "tcbEvaluationDataNumber");
  // parsePartV3
  let tdxModule: TdxModuleIdentity | null = null;
  let tdxModuleIdentities: TdxModuleIdentity[] | null = null;
  if (version === 3) {
    const moduleValue = memberOf(o, "tdxModule");
    const identitiesValue = memberOf(o, "tdxModuleIdentities");
    if (id === "SGX") {
      if (moduleValue !== undefined) throw r.fail("tdxModule", "is not allowed in SGX TCB Info");
      if (identitiesValue !== undefined) {
        throw r.fail("tdxModuleIdentities", "is not allowed in SGX TCB Info");
      }
    } else {
      if (moduleValue === undefined) throw r.fail("tdxModule", "is required in TDX TCB Info");
      tdxModule = parseModuleIdentity(r, moduleValue, "tdxModule", false);
      if (identitiesValue !== undefined) {
        tdxModuleIdentities = r
          .arr(identitiesValue, "tdxModuleIdentities")
          .map((m, i) => parseModuleIdentity(r, m, `tdxModuleIdentities[${i}]`, true));
        if (tdxModuleIdentities.length === 0) throw r.fail("tdxModuleIdentities", "is an empty array");
      }
    }
  }
  const levels = r
    .arr(memberOf(o, "tcbLevels"), "tcbLevels")
    .map((lv, i) => parseLevel(r, lv, i, version, id));
  if (levels.length === 0) throw r.fail("tcbLevels", "is empty");
  sortAsSet(r, levels, compareLevelsDescending, "tcbLevels", () => "has duplicate TCB levels");
  return {
    id,
    version,
    issueDate: issue.seconds,
    nextUpdate: next.seconds,
    issueDateText: issue.text,
    nextUpdateText: next.text,
    fmspc,
    pceId,
    tcbType,
    tcbEvaluationDataNumber,
    tdxModule,
    tdxModuleIdentities,
    tcbLevels: levels,
  };
}

/**
 * Read the signed `tcbInfo` object text: its values (QVL's rules) and the message its signature covers.
 * Throws TCB_INFO_MALFORMED / TCB_INFO_UNSUPPORTED_VERSION with the offending field.
 */
export function readSignedTcbInfo(text: string): SignedJson<TcbInfo> {
  const parsed = parseOrderedJson(text, "TCB_INFO_MALFORMED", "tcbInfo");
  if (parsed.root.kind !== "object")
    throw new QvlFields("TCB_INFO_MALFORMED", "tcbInfo").fail("(root)", "must be an object");
  const value = readTcbInfoObject(parsed.root);
  const signedMessage = parsed.canonical ? text : compactJson(parsed.root, TCB_INFO_DECIMAL_PLACES);
  return { value, signedMessage };
}

/** Parse the signed `tcbInfo` object text (the values only; see `readSignedTcbInfo`). */
export function parseTcbInfo(text: string): TcbInfo {
  return readSignedTcbInfo(text).value;
}
