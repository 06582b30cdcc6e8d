/**
 * The collateral a DCAP quote is judged against (Intel's `sgx_ql_qve_collateral_t`, in the shape of
 * dcap-qvl's `QuoteCollateralV3`). Signed JSON bodies are kept as the exact text Intel signed: they are
 * never re-serialised, because a single re-formatted byte breaks the signature.
 */
export interface Collateral {
  /**
   * PEM: the PCK CRL issuer (Platform or Processor CA) followed by the Root CA. Optional: Intel's QVL checks
   * the PCK CRL against the quote's PCK chain and never reads it; when given, the verifier reports whether
   * it agrees (a non-fatal check).
   */
  pckCrlIssuerChain?: string;
  /** DER of the Root CA CRL (revokes intermediate CAs and the TCB signing certificate). */
  rootCaCrl: Uint8Array;
  /** DER of the PCK CRL issued by the PCK certificate's CA (revokes PCK certificates). */
  pckCrl: Uint8Array;
  /** PEM: the TCB Signing certificate followed by the Root CA. */
  tcbInfoIssuerChain: string;
  /** The `tcbInfo` JSON object exactly as signed (the text between `{"tcbInfo":` and `,"signature"`). */
  tcbInfo: string;
  /** ECDSA P-256 signature over `tcbInfo` (raw r||s, 64 bytes). */
  tcbInfoSignature: Uint8Array;
  /**
   * PEM: the signer of the QE identity (TCB Signing certificate) followed by the Root CA. Optional: the QE
   * Identity is checked with the TCB Info issuer chain (the same TCB Signing certificate); when given, the
   * verifier reports whether it agrees (a non-fatal check).
   */
  qeIdentityIssuerChain?: string;
  /** The `enclaveIdentity` JSON object exactly as signed. */
  qeIdentity: string;
  /** ECDSA P-256 signature over `qeIdentity` (raw r||s, 64 bytes). */
  qeIdentitySignature: Uint8Array;
  /** PEM PCK chain (leaf, intermediate, root) for quotes whose certification data is not type 5. */
  pckCertificateChain?: string;
}

/** JSON field names of the collateral file format (dcap-qvl `QuoteCollateralV3`), in their usual order. */
export const COLLATERAL_JSON_FIELDS = [
  "pck_crl_issuer_chain",
  "root_ca_crl",
  "pck_crl",
  "tcb_info_issuer_chain",
  "tcb_info",
  "tcb_info_signature",
  "qe_identity_issuer_chain",
  "qe_identity",
  "qe_identity_signature",
  "pck_certificate_chain",
] as const;

export type CollateralJsonField = (typeof COLLATERAL_JSON_FIELDS)[number];
