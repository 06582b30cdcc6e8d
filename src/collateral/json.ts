import { hexBytes, hexOf } from "../encoding.js";
import { TdxError } from "../errors.js";
import { COLLATERAL_JSON_FIELDS, type Collateral, type CollateralJsonField } from "./types.js";

/**
 * Reader and writer of the collateral JSON file (dcap-qvl's `QuoteCollateralV3`, the format of
 * ../shared/vectors/cases/<name>/collateral.json). Byte fields are lowercase hex strings (dcap-qvl's Rust
 * serde) or arrays of byte values (dcap-qvl's JS port); the TCB info and QE identity are strings holding
 * the exact JSON text Intel signed and are carried through untouched.
 */

const FORMAT_HINT =
  "give the collateral as a JSON object with the fields of dcap-qvl's QuoteCollateralV3 " +
  "(pck_crl_issuer_chain, root_ca_crl, pck_crl, tcb_info_issuer_chain, tcb_info, tcb_info_signature, " +
  "qe_identity_issuer_chain, qe_identity, qe_identity_signature[, pck_certificate_chain])";

const KNOWN = new Set<string>(COLLATERAL_JSON_FIELDS);

function malformed(field: string, message: string, hint = FORMAT_HINT): TdxError {
  return new TdxError("COLLATERAL_MALFORMED", `collateral ${field}: ${message}`, { field, hint });
}

function readString(obj: Record<string, unknown>, field: CollateralJsonField): string {
  const v = obj[field];
  if (v === undefined || v === null) throw malformed(field, "missing");
  if (typeof v !== "string") throw malformed(field, `must be a string, got ${typeof v}`);
  if (v.length === 0) throw malformed(field, "is empty");
  return v;
}

/** An optional PEM field: absent, null or "" mean not given. */
function readOptionalString(obj: Record<string, unknown>, field: CollateralJsonField): string | undefined {
  const v = obj[field];
  if (v === undefined || v === null || v === "") return undefined;
  return readString(obj, field);
}

function readBytes(obj: Record<string, unknown>, field: CollateralJsonField): Uint8Array {
  const v = obj[field];
  if (v === undefined || v === null) throw malformed(field, "missing");
  if (typeof v === "string") {
    let h = v.trim();
    if (h.startsWith("0x") || h.startsWith("0X")) h = h.slice(2);
    const out = h.length === 0 ? null : hexBytes(h);
    if (out === null) {
      throw malformed(field, "is not a non-empty even-length hex string", "byte fields are hex strings");
    }
    return out;
  }
  if (Array.isArray(v)) {
    const out = new Uint8Array(v.length);
    for (let i = 0; i < v.length; i++) {
      const b = v[i];
      if (typeof b !== "number" || !Number.isInteger(b) || b < 0 || b > 255) {
        throw malformed(`${field}[${i}]`, "is not a byte value 0..255", "byte arrays hold integers 0..255");
      }
      out[i] = b;
    }
    if (out.length === 0) throw malformed(field, "is empty");
    return out;
  }
  throw malformed(field, `must be a hex string or an array of bytes, got ${typeof v}`);
}

const WHOLE_TCB_INFO_RESPONSE = /^\s*\{\s*"tcbInfo"\s*:/;
const WHOLE_QE_IDENTITY_RESPONSE = /^\s*\{\s*"enclaveIdentity"\s*:/;

function readSignedJson(obj: Record<string, unknown>, field: "tcb_info" | "qe_identity"): string {
  const text = readString(obj, field);
  // Only the shape is checked here; the verifier parses the text after checking Intel's signature over it.
  if (!/^\s*\{/.test(text)) {
    throw malformed(field, "is not a JSON object", `${field} holds the signed JSON object as a string`);
  }
  const wrapper = field === "tcb_info" ? "tcbInfo" : "enclaveIdentity";
  if ((field === "tcb_info" ? WHOLE_TCB_INFO_RESPONSE : WHOLE_QE_IDENTITY_RESPONSE).test(text)) {
    throw malformed(
      field,
      `holds the whole PCS response ({"${wrapper}":…,"signature":…}) instead of the signed object`,
      `put the exact text of the "${wrapper}" value in ${field} and its signature in ${field}_signature`,
    );
  }
  return text;
}

/** Parse collateral JSON text. Unknown fields are refused (they may be something the caller meant us to check). */
export function readCollateral(jsonText: string): Collateral {
  let root: unknown;
  try {
    root = JSON.parse(jsonText);
  } catch (e) {
    throw new TdxError("COLLATERAL_MALFORMED", `collateral is not valid JSON: ${(e as Error).message}`, {
      hint: FORMAT_HINT,
      cause: e,
    });
  }
  if (root === null || typeof root !== "object" || Array.isArray(root)) {
    throw new TdxError("COLLATERAL_MALFORMED", "collateral must be a JSON object", { hint: FORMAT_HINT });
  }
  const obj = root as Record<string, unknown>;
  for (const k of Object.keys(obj)) {
    if (!KNOWN.has(k)) {
      throw new TdxError("COLLATERAL_UNKNOWN_FIELD", `collateral has an unknown field "${k}"`, {
        field: k,
        hint: `remove it; known fields are ${COLLATERAL_JSON_FIELDS.join(", ")}`,
      });
    }
  }
  const c: Collateral = {
    rootCaCrl: readBytes(obj, "root_ca_crl"),
    pckCrl: readBytes(obj, "pck_crl"),
    tcbInfoIssuerChain: readString(obj, "tcb_info_issuer_chain"),
    tcbInfo: readSignedJson(obj, "tcb_info"),
    tcbInfoSignature: readBytes(obj, "tcb_info_signature"),
    qeIdentity: readSignedJson(obj, "qe_identity"),
    qeIdentitySignature: readBytes(obj, "qe_identity_signature"),
  };
  // Intel's QVL needs neither issuer chain (the PCK CRL is checked against the quote's PCK chain, the QE
  // Identity with the TCB Info issuer chain): they may be absent.
  const pckCrlIssuerChain = readOptionalString(obj, "pck_crl_issuer_chain");
  if (pckCrlIssuerChain !== undefined) c.pckCrlIssuerChain = pckCrlIssuerChain;
  const qeIdentityIssuerChain = readOptionalString(obj, "qe_identity_issuer_chain");
  if (qeIdentityIssuerChain !== undefined) c.qeIdentityIssuerChain = qeIdentityIssuerChain;
  const pck = obj.pck_certificate_chain;
  if (pck !== undefined && pck !== null) c.pckCertificateChain = readString(obj, "pck_certificate_chain");
  return c;
}

/** Serialise collateral to the same JSON format (lowercase hex bytes, signed bodies verbatim). */
export function writeCollateral(c: Collateral): string {
  const out: Record<string, string> = {};
  if (c.pckCrlIssuerChain !== undefined) out.pck_crl_issuer_chain = c.pckCrlIssuerChain;
  out.root_ca_crl = hexOf(c.rootCaCrl);
  out.pck_crl = hexOf(c.pckCrl);
  out.tcb_info_issuer_chain = c.tcbInfoIssuerChain;
  out.tcb_info = c.tcbInfo;
  out.tcb_info_signature = hexOf(c.tcbInfoSignature);
  if (c.qeIdentityIssuerChain !== undefined) out.qe_identity_issuer_chain = c.qeIdentityIssuerChain;
  out.qe_identity = c.qeIdentity;
  out.qe_identity_signature = hexOf(c.qeIdentitySignature);
  if (c.pckCertificateChain !== undefined) out.pck_certificate_chain = c.pckCertificateChain;
  return `${JSON.stringify(out, null, 2)}\n`;
}
