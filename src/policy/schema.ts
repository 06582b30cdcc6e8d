/**
 * The appraisal policy format: a small JSON object of rules, validated by hand against one table of field
 * specifications (which also produces the published JSON Schema, so the two cannot drift apart). Unknown
 * keys and wrong types are errors naming the JSON path: a policy that cannot be read never allows anything.
 */
import { TD_ATTRIBUTE_BITS } from "../abi/index.js";
import { TdxError } from "../errors.js";
import type { TcbStatus } from "../verify/result.js";

/** The TCB statuses a policy may accept: every status the verifier reports for a platform that verified. */
export type AcceptableTcbStatus = Exclude<TcbStatus, "Revoked">;

/** The same, as the list the policy schema enumerates (checked against verify's `TcbStatus` below). */
export const ACCEPTABLE_TCB_STATUSES = [
  "UpToDate",
  "SWHardeningNeeded",
  "ConfigurationNeeded",
  "ConfigurationAndSWHardeningNeeded",
  "OutOfDate",
  "OutOfDateConfigurationNeeded",
  "TDRelaunchAdvised",
  "TDRelaunchAdvisedConfigurationNeeded",
] as const satisfies readonly AcceptableTcbStatus[];
// Every status verify can report but Revoked is listed: a status added to verify's TcbStatus fails here.
type UnlistedTcbStatus = Exclude<AcceptableTcbStatus, (typeof ACCEPTABLE_TCB_STATUSES)[number]>;
const everyStatusListed: [UnlistedTcbStatus] extends [never] ? true : UnlistedTcbStatus = true;
void everyStatusListed;

/** TD attribute names a policy may require or forbid (the abi's table), plus BITn for the other bits. */
export const TD_ATTRIBUTE_NAMES: readonly string[] = Object.keys(TD_ATTRIBUTE_BITS);

export interface Policy {
  /** Format version; 1. */
  version: 1;
  /** TCB statuses accepted. Default ["UpToDate"]. */
  acceptedTcbStatuses: string[];
  /** When present, every advisory ID of the matched TCB level must be in this list. */
  allowedAdvisoryIds?: string[];
  /** The matched TCB level's tcbDate must be on or after this (ISO 8601). */
  minTcbDate?: string;
  /** Refuse when the oldest collateral item was issued longer ago than this (seconds). */
  maxCollateralAgeSeconds?: number;
  /** Accept collateral outside its validity window (the verifier's collateralExpired flag). Default false. */
  allowExpiredCollateral: boolean;
  /** Allow-lists (lowercase hex). */
  mrTd?: string[];
  rtmr0?: string[];
  rtmr1?: string[];
  rtmr2?: string[];
  rtmr3?: string[];
  mrConfigId?: string[];
  mrOwner?: string[];
  mrOwnerConfig?: string[];
  reportData?: string[];
  /** XFAM values allowed: hex of the 8 bytes as they appear in the quote (little-endian). */
  xfam?: string[];
  /** TD attributes that must be set. */
  requiredTdAttributes: string[];
  /** TD attributes that must be clear. DEBUG is always among them unless `allowDebug` is true. */
  forbiddenTdAttributes: string[];
  /** Accept debug TDs (and debug SGX enclaves). Default false. */
  allowDebug: boolean;
  /** Each of the 16 TEE_TCB_SVN bytes must be at least the corresponding byte (32 hex digits). */
  minTeeTcbSvn?: string;
}

/** Names of the allow-list rules, in evaluation order, with the measurement size in bytes. */
export const ALLOW_LIST_RULES = [
  ["mrTd", 48],
  ["rtmr0", 48],
  ["rtmr1", 48],
  ["rtmr2", 48],
  ["rtmr3", 48],
  ["mrConfigId", 48],
  ["mrOwner", 48],
  ["mrOwnerConfig", 48],
  ["reportData", 64],
  ["xfam", 8],
] as const;
export type AllowListRule = (typeof ALLOW_LIST_RULES)[number][0];

type FieldSpec =
  | { kind: "version"; description: string }
  | { kind: "enumList"; values: readonly string[]; description: string }
  | { kind: "patternList"; pattern: string; description: string }
  | { kind: "hexList"; bytes: number; description: string }
  | { kind: "hex"; bytes: number; description: string }
  | { kind: "date"; description: string }
  | { kind: "seconds"; description: string }
  | { kind: "bool"; description: string }
  | { kind: "attributeList"; description: string };

const ADVISORY_PATTERN = "^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+$";
const DATE_PATTERN = "^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?(Z|[+-]\\d{2}:\\d{2}))?$";
const ATTRIBUTE_PATTERN = "^BIT([0-9]|[1-5][0-9]|6[0-3])$";

const FIELDS: Record<string, FieldSpec> = {
  version: { kind: "version", description: "Policy format version (1)." },
  acceptedTcbStatuses: {
    kind: "enumList",
    values: ACCEPTABLE_TCB_STATUSES,
    description: 'TCB statuses accepted. Default ["UpToDate"]. Revoked is never accepted.',
  },
  allowedAdvisoryIds: {
    kind: "patternList",
    pattern: ADVISORY_PATTERN,
    description: "Every advisory ID of the matched TCB level must be listed (e.g. INTEL-SA-00837).",
  },
  minTcbDate: {
    kind: "date",
    description: "The matched TCB level's tcbDate must be on or after this date (ISO 8601).",
  },
  maxCollateralAgeSeconds: {
    kind: "seconds",
    description:
      "Refuse when the oldest collateral item (TCB Info, QE identity, CRLs) was issued longer ago.",
  },
  allowExpiredCollateral: {
    kind: "bool",
    description: "Accept collateral past its validity window. Default false.",
  },
  ...Object.fromEntries(
    ALLOW_LIST_RULES.map(([name, bytes]) => [
      name,
      {
        kind: "hexList",
        bytes,
        description:
          name === "xfam"
            ? "Allowed XFAM values: hex of the 8 bytes as in the quote (little-endian)."
            : `Allowed ${name} values (${bytes} bytes as ${bytes * 2} hex digits).`,
      } satisfies FieldSpec,
    ]),
  ),
  requiredTdAttributes: { kind: "attributeList", description: "TD attributes that must be set." },
  forbiddenTdAttributes: {
    kind: "attributeList",
    description: "TD attributes that must be clear; DEBUG is added unless allowDebug is true.",
  },
  allowDebug: { kind: "bool", description: "Accept debug TDs and debug SGX enclaves. Default false." },
  minTeeTcbSvn: {
    kind: "hex",
    bytes: 16,
    description: "Minimum TEE_TCB_SVN, compared byte by byte (each of the 16 component SVNs).",
  },
};

/** The policy used when none is given: UpToDate only, no expired collateral, no debug. */
export const DEFAULT_POLICY: Readonly<Policy> = Object.freeze({
  version: 1,
  acceptedTcbStatuses: ["UpToDate"],
  allowExpiredCollateral: false,
  requiredTdAttributes: [],
  forbiddenTdAttributes: ["DEBUG"],
  allowDebug: false,
});

function invalid(path: string, message: string, hint?: string): TdxError {
  return new TdxError("POLICY_INVALID", `policy ${path}: ${message}`, {
    field: path,
    hint: hint ?? "fix the policy; see docs/policy.md for the format",
  });
}

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  return typeof v;
}

/**
 * Lists that select what is accepted (statuses, measurement allow-lists) must not be empty: an empty one
 * would refuse everything. Lists that name requirements (attributes, allowed advisories) may be empty.
 */
function readList(
  v: unknown,
  path: string,
  each: (item: unknown, path: string) => string,
  allowEmpty = false,
): string[] {
  if (!Array.isArray(v)) throw invalid(path, `must be an array, got ${typeName(v)}`);
  if (v.length === 0 && !allowEmpty)
    throw invalid(
      path,
      "must not be empty",
      "an empty allow-list would refuse everything; omit the key to not check it",
    );
  const out = v.map((item, i) => each(item, `${path}[${i}]`));
  return [...new Set(out)];
}

function readHex(v: unknown, path: string, bytes: number): string {
  if (typeof v !== "string") throw invalid(path, `must be a hex string, got ${typeName(v)}`);
  const h = v.startsWith("0x") || v.startsWith("0X") ? v.slice(2) : v;
  if (!/^[0-9a-fA-F]*$/.test(h) || h.length !== bytes * 2)
    throw invalid(path, `must be ${bytes * 2} hex digits (${bytes} bytes), got "${v}"`);
  return h.toLowerCase();
}

function readField(spec: FieldSpec, v: unknown, path: string): unknown {
  switch (spec.kind) {
    case "version":
      if (v !== 1)
        throw invalid(path, `unsupported version ${JSON.stringify(v)}`, "this build reads version 1");
      return 1;
    case "enumList":
      return readList(v, path, (item, p) => {
        if (item === "Revoked")
          throw invalid(p, "Revoked can never be accepted", "a revoked TCB is compromised; remove it");
        if (typeof item !== "string" || !spec.values.includes(item))
          throw invalid(p, `unknown value ${JSON.stringify(item)}`, `use one of ${spec.values.join(", ")}`);
        return item;
      });
    case "patternList":
      return readList(
        v,
        path,
        (item, p) => {
          if (typeof item !== "string") throw invalid(p, `must be a string, got ${typeName(item)}`);
          const up = item.toUpperCase();
          if (!new RegExp(spec.pattern).test(up))
            throw invalid(p, `"${item}" is not an advisory ID like INTEL-SA-00837`);
          return up;
        },
        true,
      );
    case "hexList":
      return readList(v, path, (item, p) => readHex(item, p, spec.bytes));
    case "hex":
      return readHex(v, path, spec.bytes);
    case "date": {
      if (typeof v !== "string") throw invalid(path, `must be an ISO 8601 date string, got ${typeName(v)}`);
      if (!new RegExp(DATE_PATTERN).test(v) || Number.isNaN(Date.parse(v)))
        throw invalid(
          path,
          `"${v}" is not an ISO 8601 date`,
          'write e.g. "2024-03-13" or "2024-03-13T00:00:00Z"',
        );
      return new Date(Date.parse(v.length === 10 ? `${v}T00:00:00Z` : v)).toISOString();
    }
    case "seconds":
      if (typeof v !== "number" || !Number.isInteger(v) || v <= 0)
        throw invalid(path, `must be a positive integer number of seconds, got ${JSON.stringify(v)}`);
      return v;
    case "bool":
      if (typeof v !== "boolean") throw invalid(path, `must be true or false, got ${typeName(v)}`);
      return v;
    case "attributeList":
      return readList(
        v,
        path,
        (item, p) => {
          if (typeof item !== "string") throw invalid(p, `must be a string, got ${typeName(item)}`);
          const up = item.toUpperCase();
          if (TD_ATTRIBUTE_NAMES.includes(up)) return up;
          if (!new RegExp(ATTRIBUTE_PATTERN).test(up))
            throw invalid(
              p,
              `unknown TD attribute "${item}"`,
              `use one of ${TD_ATTRIBUTE_NAMES.join(", ")} or BIT0..BIT63`,
            );
          // A named bit is reported under its name (tdAttributeNames), so BIT28 means SEPT_VE_DISABLE.
          const bit = Number(up.slice(3));
          return TD_ATTRIBUTE_NAMES.find((n) => TD_ATTRIBUTE_BITS[n] === bit) ?? up;
        },
        true,
      );
  }
}

/** Validates a parsed JSON value as a policy; fills defaults. */
export function policyFromJson(value: unknown): Policy {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw invalid("$", `must be a JSON object, got ${typeName(value)}`);
  const obj = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(obj)) {
    const spec = FIELDS[key];
    if (spec === undefined || !Object.hasOwn(FIELDS, key))
      throw new TdxError("POLICY_UNKNOWN_FIELD", `policy $.${key}: unknown rule`, {
        field: `$.${key}`,
        hint: `known keys: ${Object.keys(FIELDS).join(", ")}`,
      });
    out[key] = readField(spec, v, `$.${key}`);
  }
  const policy: Policy = {
    ...(out as Partial<Policy>),
    version: 1,
    acceptedTcbStatuses: (out.acceptedTcbStatuses as string[] | undefined) ?? [
      ...DEFAULT_POLICY.acceptedTcbStatuses,
    ],
    allowExpiredCollateral: (out.allowExpiredCollateral as boolean | undefined) ?? false,
    requiredTdAttributes: (out.requiredTdAttributes as string[] | undefined) ?? [],
    forbiddenTdAttributes: (out.forbiddenTdAttributes as string[] | undefined) ?? [],
    allowDebug: (out.allowDebug as boolean | undefined) ?? false,
  };
  if (!policy.allowDebug && !policy.forbiddenTdAttributes.includes("DEBUG"))
    policy.forbiddenTdAttributes = ["DEBUG", ...policy.forbiddenTdAttributes];
  if (policy.allowDebug && policy.forbiddenTdAttributes.includes("DEBUG"))
    throw invalid("$.allowDebug", "is true while forbiddenTdAttributes lists DEBUG", "keep one of the two");
  for (const name of policy.requiredTdAttributes) {
    if (policy.forbiddenTdAttributes.includes(name)) {
      const why =
        name === "DEBUG" && !obj.forbiddenTdAttributes
          ? " (DEBUG is forbidden unless allowDebug is true)"
          : "";
      throw invalid(
        "$.requiredTdAttributes",
        `${name} is both required and forbidden${why}`,
        "keep it in one list",
      );
    }
  }
  return policy;
}

/** Reads a policy from JSON text. A malformed policy is an error (code POLICY_*), never an allow. */
export function readPolicy(text: string): Policy {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new TdxError(
      "POLICY_INVALID",
      `policy is not valid JSON: ${e instanceof Error ? e.message : String(e)}`,
      {
        field: "$",
        hint: "the policy file must be one JSON object; see docs/policy.md",
        cause: e,
      },
    );
  }
  return policyFromJson(value);
}

function schemaOf(spec: FieldSpec): Record<string, unknown> {
  const d = { description: spec.description };
  const list = (items: Record<string, unknown>, minItems = 1) => ({ ...d, type: "array", minItems, items });
  switch (spec.kind) {
    case "version":
      return { ...d, const: 1 };
    case "enumList":
      return list({ enum: [...spec.values] });
    case "patternList":
      return list({ type: "string", pattern: spec.pattern }, 0);
    case "hexList":
      return list({ type: "string", pattern: `^(0[xX])?[0-9a-fA-F]{${spec.bytes * 2}}$` });
    case "hex":
      return { ...d, type: "string", pattern: `^(0[xX])?[0-9a-fA-F]{${spec.bytes * 2}}$` };
    case "date":
      return { ...d, type: "string", pattern: DATE_PATTERN };
    case "seconds":
      return { ...d, type: "integer", exclusiveMinimum: 0 };
    case "bool":
      return { ...d, type: "boolean" };
    case "attributeList":
      return list(
        { anyOf: [{ enum: [...TD_ATTRIBUTE_NAMES] }, { type: "string", pattern: ATTRIBUTE_PATTERN }] },
        0,
      );
  }
}

/** JSON Schema (2020-12) of the policy format, generated from the same table readPolicy uses. */
export const POLICY_JSON_SCHEMA: Readonly<Record<string, unknown>> = Object.freeze({
  $schema: "https://json-schema.org/draft/2020-12/schema",
  $id: "urn:tdx-attest:policy:v1",
  title: "tdx-attest appraisal policy",
  type: "object",
  additionalProperties: false,
  properties: Object.fromEntries(Object.entries(FIELDS).map(([k, spec]) => [k, schemaOf(spec)])),
});
