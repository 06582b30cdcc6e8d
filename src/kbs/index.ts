/** Key broker: the KBS attestation protocol 0.4.0 (RCAR), evidence binding, tokens, JWE release, policies, stores. */
export { AZ_CLAIMS_KEY, addAzTdxVtpmClaims, pcrClaimName } from "./az-claims.js";
export { type AzTdxVtpmEvidenceSource, azAttestationMessage, isAzTdxVtpmSource } from "./az-client.js";
export {
  checkAzTdxVtpmOutcome,
  readAzTdxVtpmTeeEvidence,
  readSessionEvidence,
  runtimeDataDigest,
} from "./az-tdx-vtpm.js";
export {
  checkReportDataBinding,
  DEFAULT_RUNTIME_DATA_HASH,
  expectedReportData,
  negotiateHashAlgorithm,
  type RuntimeDataHashAlgorithm,
  runtimeDataObject,
} from "./binding.js";
export {
  ANNOTATED_EVIDENCE,
  appraisalStatus,
  buildTokenClaims,
  CLAIM_NAMES,
  CPU_SUBMOD,
  claimPointer,
  claimSetOf,
  claimValue,
  EAR_PROFILE,
  type EarStatus,
  jsonPointer,
  mergeClaims,
  splitClaims,
  type TokenClaimsInput,
  tdAttributeFlags,
  teePubkeyFromClaims,
  trusteeQuoteClaims,
} from "./claims.js";
export {
  attestationMessage,
  generateTeeKeyPair,
  KbsClient,
  type KbsClientOptions,
  type QuoteSource,
  type TeeKeyPair,
} from "./client.js";
export {
  type EvidenceVerifier,
  type PolicyDenial,
  readCompositeEvidence,
  readTeeEvidence,
  type TdxEvidence,
} from "./evidence.js";
export { canonicalJson } from "./jcs.js";
export {
  type CheckedTeePubkey,
  checkTeePubkey,
  decryptKbsResponse,
  encryptToTeeKey,
  importTeePubkey,
  type KbsResponse,
  SUPPORTED_TEE_KEY_ALGS,
  type TeeKeyAlg,
} from "./jwe.js";
export { KEK_ENV, KeyEncryptionKey, loadKek, parseKek, type SealedBlob } from "./kek.js";
export {
  DEFAULT_RESOURCE_POLICY,
  evaluateResourcePolicy,
  parseResourcePolicy,
  type ResourcePolicy,
  type ResourceRule,
} from "./resource-policy.js";
export {
  type AttestOutcome,
  checkResourcePath,
  DEFAULT_POLICY_ID,
  KBS_PROTOCOL_VERSION,
  KbsService,
  type KbsServiceOptions,
  MAX_SEGMENT_LENGTH,
  type RequestContext,
} from "./service.js";
export {
  type AuditEntry,
  type AuditRecord,
  type ConsumeOutcome,
  KbsStore,
  openStore,
  type PolicyKind,
  type PolicyRecord,
  PostgresDb,
  type ResourceRecord,
  type SessionRecord,
  type SqlDb,
  SqliteDb,
} from "./store/index.js";
export { DEFAULT_TOKEN_ISSUER, TokenSigner } from "./token.js";
export { decodePolicyField, resourcePolicyFromRego } from "./trustee-policies.js";
