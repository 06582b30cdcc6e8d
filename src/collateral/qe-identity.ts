import { TdxError } from "../errors.js";
import { compactJson, type JsonArray, memberOf, parseOrderedJson } from "./ordered-json.js";
import { cString, QvlFields } from "./qvl-fields.js";
import type { SignedJson } from "./tcb-info.js";

/**
 * Intel's signed QE Identity (enclave identity v2), read as QVL reads it (QVL
 * `AttestationLibrary/src/Verifiers/EnclaveIdentityParser.cpp`, `EnclaveIdentityV2.cpp`, `TcbStatus.h`): the
 * first of duplicate members, rapidjson's number types, QVL's date grammar, and the five TCB statuses of
 * `parseStringToTcbStatus`. Its signature covers rapidjson's compact re-serialisation of the parsed object
 * (`EnclaveIdentityV2` constructor, default Writer).
 */

/**
 * QE identity TCB level statuses: QVL's `parseStringToTcbStatus` knows these five and refuses the identity
 * for any other (SWHardeningNeeded and ConfigurationAndSWHardeningNeeded are TCB Info statuses only).
 */
export const QE_TCB_STATUSES = [
  "UpToDate",
  "ConfigurationNeeded",
  "OutOfDate",
  "OutOfDateConfigurationNeeded",
  "Revoked",
] as const;
export type QeTcbStatus = (typeof QE_TCB_STATUSES)[number];

export interface QeTcbLevel {
  isvSvn: number;
  tcbDate: string;
  tcbStatus: QeTcbStatus;
  /** QVL does not read them; reported here when they are an array of strings, [] otherwise. */
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

function lenientAdvisories(v: ReturnType<typeof memberOf>): string[] {
  if (v?.kind !== "array") return [];
  const items = (v as JsonArray).items;
  return items.every((a) => a.kind === "string")
    ? items.map((a) => cString((a as { value: string }).value))
    : [];
}

/**
 * Read the signed `enclaveIdentity` object text: its values (QVL's rules) and the message its signature
 * covers. Throws QE_IDENTITY_MALFORMED / QE_IDENTITY_UNSUPPORTED_VERSION with the offending field.
 */
export function readSignedQeIdentity(text: string): SignedJson<QeIdentity> {
  const r = new QvlFields("QE_IDENTITY_MALFORMED", "qeIdentity");
  const parsed = parseOrderedJson(text, "QE_IDENTITY_MALFORMED", "qeIdentity");
  const o = r.obj(parsed.root, "(root)");
  // EnclaveIdentityParser: version (getIntFieldOf) decides the parser; only V2 exists.
  const version = r.int(o, "version");
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
  // EnclaveIdentityV2 constructor, in its order.
  const issue = r.date(o, "issueDate");
  const next = r.date(o, "nextUpdate");
  const miscselect = r.hex(o, "miscselect", 8);
  const miscselectMask = r.hex(o, "miscselectMask", 8);
  const attributes = r.hex(o, "attributes", 32);
  const attributesMask = r.hex(o, "attributesMask", 32);
  const mrSigner = r.hex(o, "mrsigner", 64);
  const isvProdId = r.uint(o, "isvprodid");
  const id = memberOf(o, "id")?.kind === "string" ? r.str(o, "id") : "";
  if (id !== "QE" && id !== "QVE" && id !== "TD_QE") {
    throw r.fail("id", `must be QE, QVE or TD_QE, got "${id}"`);
  }
  const tcbEvaluationDataNumber = r.uint(o, "tcbEvaluationDataNumber");
  const levels = r.arr(memberOf(o, "tcbLevels"), "tcbLevels");
  if (levels.length === 0) throw r.fail("tcbLevels", "is empty");
  const tcbLevels = levels.map((lv, i): QeTcbLevel => {
    const f = `tcbLevels[${i}]`;
    const l = r.obj(lv, f);
    const tcbDate = r.date(l, "tcbDate", `${f}.tcbDate`).text;
    const tcbStatus = r.str(l, "tcbStatus", `${f}.tcbStatus`);
    const isvSvn = r.uint(r.obj(memberOf(l, "tcb"), `${f}.tcb`), "isvsvn", `${f}.tcb.isvsvn`);
    if (!(QE_TCB_STATUSES as readonly string[]).includes(tcbStatus)) {
      throw r.fail(`${f}.tcbStatus`, `"${tcbStatus}" is not a QE identity TCB status`);
    }
    return {
      isvSvn,
      tcbDate,
      tcbStatus: tcbStatus as QeTcbStatus,
      advisoryIds: lenientAdvisories(memberOf(l, "advisoryIDs")),
    };
  });
  const value: QeIdentity = {
    id,
    version,
    issueDate: issue.seconds,
    nextUpdate: next.seconds,
    issueDateText: issue.text,
    nextUpdateText: next.text,
    tcbEvaluationDataNumber,
    miscselect,
    miscselectMask,
    attributes,
    attributesMask,
    mrSigner,
    isvProdId,
    tcbLevels,
  };
  return { value, signedMessage: parsed.canonical ? text : compactJson(parsed.root) };
}

/** Parse the signed `enclaveIdentity` object text (the values only; see `readSignedQeIdentity`). */
export function parseQeIdentity(text: string): QeIdentity {
  return readSignedQeIdentity(text).value;
}
