import { TdxError } from "../errors.js";

/**
 * Typed models of Intel's signed TCB Info (v2/v3) and QE Identity (v2) JSON, validated the way QVL's
 * parsers do (AttestationParsers Json/TcbInfo.cpp, TcbLevel.cpp, TdxModule*.cpp, EnclaveIdentityV2.cpp).
 * Fields Intel may add later are ignored; fields QVL needs are required and type-checked.
 */

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

export interface TcbLevel {
  /** SGX TCB component SVNs 1..16. */
  sgxComponents: number[];
  pceSvn: number;
  /** TDX TCB component SVNs (TDX TCB Info only). */
  tdxComponents: number[] | null;
  tcbDate: string;
  /** As written by Intel; validated when the level is used. */
  tcbStatus: string;
  advisoryIds: string[];
}

export interface TdxModuleTcbLevel {
  isvSvn: number;
  tcbDate: string;
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

export interface QeTcbLevel {
  isvSvn: number;
  tcbDate: string;
  tcbStatus: string;
  advisoryIds: string[];
}

export interface QeIdentity {
  id: string;
  version: number;
  issueDate: number;
  nextUpdate: number;
  issueDateText: string;
  nextUpdateText: string;
  tcbEvaluationDataNumber: number;
  miscselect: Uint8Array;
  miscselectMask: Uint8Array;
  attributes: Uint8Array;
  attributesMask: Uint8Array;
  mrSigner: Uint8Array;
  isvProdId: number;
  /** In JSON order (QVL keeps a vector here). */
  tcbLevels: QeTcbLevel[];
}

type Obj = Record<string, unknown>;

class Reader {
  constructor(
    readonly code: string,
    readonly what: string,
  ) {}

  fail(field: string, message: string): TdxError {
    return new TdxError(this.code, `${this.what} ${field}: ${message}`, {
      field: `${this.what}.${field}`,
      hint: `the ${this.what} JSON is not in Intel's format; fetch it again from Intel PCS or your PCCS`,
    });
  }

  obj(v: unknown, field: string): Obj {
    if (v === null || typeof v !== "object" || Array.isArray(v)) throw this.fail(field, "must be an object");
    return v as Obj;
  }

  arr(v: unknown, field: string): unknown[] {
    if (!Array.isArray(v)) throw this.fail(field, "must be an array");
    return v;
  }

  str(o: Obj, key: string, field = key): string {
    const v = o[key];
    if (typeof v !== "string") throw this.fail(field, "must be a string");
    return v;
  }

  uint(o: Obj, key: string, field = key, max = Number.MAX_SAFE_INTEGER): number {
    const v = o[key];
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max) {
      throw this.fail(field, `must be an integer 0..${max}`);
    }
    return v;
  }

  hex(o: Obj, key: string, bytes: number, field = key): Uint8Array {
    const s = this.str(o, key, field);
    if (s.length !== bytes * 2 || !/^[0-9a-fA-F]*$/.test(s))
      throw this.fail(field, `must be ${bytes} bytes of hex`);
    return new Uint8Array(Buffer.from(s, "hex"));
  }

  date(o: Obj, key: string, field = key): { text: string; seconds: number } {
    const text = this.str(o, key, field);
    // ISO 8601 UTC as Intel writes it; fractional seconds tolerated.
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.test(text))
      throw this.fail(field, "must be an ISO 8601 UTC date");
    const ms = Date.parse(text);
    if (Number.isNaN(ms)) throw this.fail(field, "is not a valid date");
    return { text, seconds: Math.floor(ms / 1000) };
  }

  advisories(o: Obj, field: string): string[] {
    const v = o.advisoryIDs;
    if (v === undefined) return [];
    return this.arr(v, `${field}.advisoryIDs`).map((a, i) => {
      if (typeof a !== "string") throw this.fail(`${field}.advisoryIDs[${i}]`, "must be a string");
      return a;
    });
  }

  parse(text: string): Obj {
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      throw new TdxError(this.code, `${this.what} is not valid JSON`, {
        field: this.what,
        hint: `the ${this.what} text is corrupt; fetch it again from Intel PCS or your PCCS`,
      });
    }
    return this.obj(v, "(root)");
  }
}

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
  r: Reader,
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

/** QVL's TcbLevel ordering (descending): SGX components, then PCESVN, then TDX components. */
function compareLevelsDescending(x: TcbLevel, y: TcbLevel): number {
  const s = compareVectors(y.sgxComponents, x.sgxComponents);
  if (s !== 0) return s;
  if (x.pceSvn !== y.pceSvn) return y.pceSvn - x.pceSvn;
  return compareVectors(y.tdxComponents ?? [], x.tdxComponents ?? []);
}

function parseComponents(r: Reader, v: unknown, field: string): number[] {
  const a = r.arr(v, field);
  if (a.length !== 16) throw r.fail(field, "must have 16 components");
  // The same checks as r.obj and r.uint, with the field names built only for the error (32 per TCB level).
  const out: number[] = [];
  for (let i = 0; i < 16; i++) {
    const c = a[i];
    if (c === null || typeof c !== "object" || Array.isArray(c))
      throw r.fail(`${field}[${i}]`, "must be an object");
    const svn = (c as Obj).svn;
    if (typeof svn !== "number" || !Number.isInteger(svn) || svn < 0 || svn > 255) {
      throw r.fail(`${field}[${i}].svn`, "must be an integer 0..255");
    }
    out.push(svn);
  }
  return out;
}

function parseModuleIdentity(r: Reader, v: unknown, field: string, withLevels: boolean): TdxModuleIdentity {
  const o = r.obj(v, field);
  const out: TdxModuleIdentity = {
    id: withLevels ? r.str(o, "id", `${field}.id`) : "",
    mrSigner: r.hex(o, "mrsigner", 48, `${field}.mrsigner`),
    attributes: r.hex(o, "attributes", 8, `${field}.attributes`),
    attributesMask: r.hex(o, "attributesMask", 8, `${field}.attributesMask`),
    tcbLevels: [],
  };
  if (withLevels) {
    out.tcbLevels = r.arr(o.tcbLevels, `${field}.tcbLevels`).map((lv, i) => {
      const f = `${field}.tcbLevels[${i}]`;
      const l = r.obj(lv, f);
      return {
        isvSvn: r.uint(r.obj(l.tcb, `${f}.tcb`), "isvsvn", `${f}.tcb.isvsvn`, 255),
        tcbDate: r.str(l, "tcbDate", `${f}.tcbDate`),
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
      (l) => {
        return `has two levels with isvsvn ${l.isvSvn}`;
      },
    );
  }
  return out;
}

/** Parse the signed `tcbInfo` object text. */
export function parseTcbInfo(text: string): TcbInfo {
  const r = new Reader("TCB_INFO_MALFORMED", "tcbInfo");
  const o = r.parse(text);
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
  const fmspc = Buffer.from(r.hex(o, "fmspc", 6)).toString("hex");
  const pceId = Buffer.from(r.hex(o, "pceId", 2)).toString("hex");
  const tcbType = r.uint(o, "tcbType");
  if (tcbType !== 0) throw r.fail("tcbType", `${tcbType} is not supported (QVL supports TCB type 0 only)`);
  const tcbEvaluationDataNumber = r.uint(o, "tcbEvaluationDataNumber");
  let tdxModule: TdxModuleIdentity | null = null;
  let tdxModuleIdentities: TdxModuleIdentity[] | null = null;
  if (id === "TDX") {
    if (o.tdxModule === undefined) throw r.fail("tdxModule", "is required in TDX TCB Info");
    tdxModule = parseModuleIdentity(r, o.tdxModule, "tdxModule", false);
    if (o.tdxModuleIdentities !== undefined) {
      tdxModuleIdentities = r
        .arr(o.tdxModuleIdentities, "tdxModuleIdentities")
        .map((m, i) => parseModuleIdentity(r, m, `tdxModuleIdentities[${i}]`, true));
      if (tdxModuleIdentities.length === 0) throw r.fail("tdxModuleIdentities", "is an empty array");
    }
  } else if (o.tdxModule !== undefined || o.tdxModuleIdentities !== undefined) {
    throw r.fail("tdxModule", "is not allowed in SGX TCB Info");
  }
  const levels = r.arr(o.tcbLevels, "tcbLevels").map((lv, i): TcbLevel => {
    const f = `tcbLevels[${i}]`;
    const l = r.obj(lv, f);
    const tcb = r.obj(l.tcb, `${f}.tcb`);
    let sgxComponents: number[];
    let tdxComponents: number[] | null = null;
    if (version === 2) {
      sgxComponents = [];
      for (let c = 1; c <= 16; c++) {
        const k = `sgxtcbcomp${String(c).padStart(2, "0")}svn`;
        sgxComponents.push(r.uint(tcb, k, `${f}.tcb.${k}`, 255));
      }
    } else {
      sgxComponents = parseComponents(r, tcb.sgxtcbcomponents, `${f}.tcb.sgxtcbcomponents`);
      if (id === "TDX") tdxComponents = parseComponents(r, tcb.tdxtcbcomponents, `${f}.tcb.tdxtcbcomponents`);
    }
    return {
      sgxComponents,
      pceSvn: r.uint(tcb, "pcesvn", `${f}.tcb.pcesvn`, 0xffff),
      tdxComponents,
      tcbDate: r.str(l, "tcbDate", `${f}.tcbDate`),
      tcbStatus: r.str(l, "tcbStatus", `${f}.tcbStatus`),
      advisoryIds: r.advisories(l, f),
    };
  });
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

/** Parse the signed `enclaveIdentity` object text (QE Identity v2). */
export function parseQeIdentity(text: string): QeIdentity {
  const r = new Reader("QE_IDENTITY_MALFORMED", "qeIdentity");
  const o = r.parse(text);
  const version = r.uint(o, "version");
  if (version !== 2) {
    throw new TdxError(
      "QE_IDENTITY_UNSUPPORTED_VERSION",
      `QE Identity version ${version} is not supported (2)`,
      {
        field: "qeIdentity.version",
        hint: "fetch the QE identity from the PCS v3/v4 API (version 2)",
      },
    );
  }
  const id = r.str(o, "id");
  if (id !== "QE" && id !== "QVE" && id !== "TD_QE")
    throw r.fail("id", `must be QE, QVE or TD_QE, got "${id}"`);
  const issue = r.date(o, "issueDate");
  const next = r.date(o, "nextUpdate");
  const levels = r.arr(o.tcbLevels, "tcbLevels").map((lv, i): QeTcbLevel => {
    const f = `tcbLevels[${i}]`;
    const l = r.obj(lv, f);
    const tcbStatus = r.str(l, "tcbStatus", `${f}.tcbStatus`);
    if (!(TCB_STATUSES as readonly string[]).includes(tcbStatus)) {
      throw r.fail(`${f}.tcbStatus`, `"${tcbStatus}" is not a TCB status`);
    }
    return {
      isvSvn: r.uint(r.obj(l.tcb, `${f}.tcb`), "isvsvn", `${f}.tcb.isvsvn`, 0xffff),
      tcbDate: r.date(l, "tcbDate", `${f}.tcbDate`).text,
      tcbStatus,
      advisoryIds: r.advisories(l, f),
    };
  });
  if (levels.length === 0) throw r.fail("tcbLevels", "is empty");
  return {
    id,
    version,
    issueDate: issue.seconds,
    nextUpdate: next.seconds,
    issueDateText: issue.text,
    nextUpdateText: next.text,
    tcbEvaluationDataNumber: r.uint(o, "tcbEvaluationDataNumber"),
    miscselect: r.hex(o, "miscselect", 4),
    miscselectMask: r.hex(o, "miscselectMask", 4),
    attributes: r.hex(o, "attributes", 16),
    attributesMask: r.hex(o, "attributesMask", 16),
    mrSigner: r.hex(o, "mrsigner", 32),
    isvProdId: r.uint(o, "isvprodid", "isvprodid", 0xffff),
    tcbLevels: levels,
  };
}
