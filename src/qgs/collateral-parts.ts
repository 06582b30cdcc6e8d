/**
 * Between the collateral parts a QGS carries (`tdx_ql_qv_collateral_t`, see collateral-message.ts) and the
 * project's `Collateral` (the verifier's input and the JSON file `verify --collateral` reads).
 *
 * Intel's QPL (QuoteGeneration/qpl/sgx_default_quote_provider.cpp, `ql_get_quote_verification_collateral_
 * internal`, and qcnl's QvCollateralProvider) fills the parts from PCS/PCCS responses and ends each with one
 * NUL: the PCK CRL body and its issuer chain header, the TCB Info body `{"tcbInfo":…,"signature":…}` and its
 * chain, the QE Identity body and its chain, the root CA CRL. CRLs are DER for PCS and collateral versions
 * 3.1/4.0, PEM (PCK CRL) or hex (root CA CRL) for 3.0; all three are read.
 */
import type { Collateral } from "../collateral/index.js";
import {
  readCrl,
  readQeIdentityResponse,
  readTcbInfoResponse,
  splitPemCertificates,
} from "../collateral/index.js";
import { hexBytes } from "../encoding.js";
import { TdxError } from "../errors.js";
import {
  COLLATERAL_PARTS,
  type QgsCollateralPartName,
  type QgsCollateralParts,
} from "./collateral-message.js";

const utf8 = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/** The part without the one trailing NUL Intel's QPL appends (a part without it is taken as is). */
function withoutNul(part: Uint8Array): Uint8Array {
  return part.length > 0 && part[part.length - 1] === 0 ? part.subarray(0, part.length - 1) : part;
}

/** A part as the NUL-terminated bytes Intel's QPL hands the QGS. */
export function nulTerminated(part: Uint8Array | string): Uint8Array {
  const bytes = typeof part === "string" ? encoder.encode(part) : part;
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}

function malformed(field: string, message: string, cause?: unknown): TdxError {
  return new TdxError("QGS_COLLATERAL_MALFORMED", `QGS collateral ${field}: ${message}`, {
    field,
    hint: "the QGS's quote provider library returned collateral that is not what Intel's PCS serves; check the PCCS the QGS host uses (/etc/sgx_default_qcnl.conf)",
    ...(cause !== undefined ? { cause } : {}),
  });
}

function text(parts: QgsCollateralParts, key: QgsCollateralPartName, field: string): string {
  try {
    return utf8.decode(withoutNul(parts[key]));
  } catch (e) {
    throw malformed(field, "is not UTF-8 text", e);
  }
}

function chain(parts: QgsCollateralParts, key: QgsCollateralPartName, field: string): string {
  const certs = splitPemCertificates(text(parts, key, field));
  if (certs.length < 2)
    throw malformed(field, `holds ${certs.length} PEM certificate(s), expected the issuer and the root CA`);
  return certs.join("");
}

function crl(part: Uint8Array, field: string): Uint8Array {
  try {
    return readCrl(withoutNul(part), field).der;
  } catch (e) {
    throw malformed(field, e instanceof Error ? e.message : String(e), e);
  }
}

/** A signature's bytes (readTcbInfoResponse / readQeIdentityResponse checked it is 128 hex digits). */
function signatureBytes(hex: string): Uint8Array {
  return hexBytes(hex) as Uint8Array;
}

/**
 * The project's `Collateral` from the parts of a GET_COLLATERAL_RESP: chains and signed bodies kept byte for
 * byte (the TCB Info and QE Identity texts exactly as Intel signed them), CRLs as DER. With `fmspc` (12 hex
 * digits), a TCB Info for another FMSPC is refused (`QGS_COLLATERAL_MISMATCH`).
 */
export function collateralFromQgsParts(parts: QgsCollateralParts, opts: { fmspc?: string } = {}): Collateral {
  for (const [key, field] of COLLATERAL_PARTS)
    if (withoutNul(parts[key]).length === 0) throw malformed(field, "is empty");
  let tcb: ReturnType<typeof readTcbInfoResponse>;
  try {
    tcb = readTcbInfoResponse(text(parts, "tcbInfo", "tcb_info"));
  } catch (e) {
    throw e instanceof TdxError && e.code === "QGS_COLLATERAL_MALFORMED"
      ? e
      : malformed("tcb_info", e instanceof Error ? e.message : String(e), e);
  }
  let qe: ReturnType<typeof readQeIdentityResponse>;
  try {
    qe = readQeIdentityResponse(text(parts, "qeIdentity", "qe_identity"));
  } catch (e) {
    throw e instanceof TdxError && e.code === "QGS_COLLATERAL_MALFORMED"
      ? e
      : malformed("qe_identity", e instanceof Error ? e.message : String(e), e);
  }
  if (opts.fmspc !== undefined && tcb.fmspc !== opts.fmspc.toUpperCase())
    throw new TdxError(
      "QGS_COLLATERAL_MISMATCH",
      `the QGS answered with the TCB Info of FMSPC ${tcb.fmspc}, asked for ${opts.fmspc.toUpperCase()}`,
      {
        field: "tcb_info.fmspc",
        hint: "the QGS's PCCS served collateral for another platform; check its cache and configuration",
        data: { asked: opts.fmspc.toUpperCase(), answered: tcb.fmspc },
      },
    );
  return {
    pckCrlIssuerChain: chain(parts, "pckCrlIssuerChain", "pck_crl_issuer_chain"),
    rootCaCrl: crl(parts.rootCaCrl, "root_ca_crl"),
    pckCrl: crl(parts.pckCrl, "pck_crl"),
    tcbInfoIssuerChain: chain(parts, "tcbInfoIssuerChain", "tcb_info_issuer_chain"),
    tcbInfo: tcb.body,
    tcbInfoSignature: signatureBytes(tcb.signature),
    qeIdentityIssuerChain: chain(parts, "qeIdentityIssuerChain", "qe_identity_issuer_chain"),
    qeIdentity: qe.body,
    qeIdentitySignature: signatureBytes(qe.signature),
  };
}
