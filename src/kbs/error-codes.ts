import type { ErrorTable } from "../errors.js";

/**
 * Error codes of kbs/: the key broker (sessions, evidence, tokens, release, policies, stores) and its client.
 * `http` is the status of the broker's problem+json answer (Trustee's RCAR: 401 unauthenticated, 403 policy,
 * 404 unknown resource); codes without one are local (CLI, library) or answered 500 KBS_INTERNAL.
 */
export const KBS_ERRORS = {
  JCS_LONE_SURROGATE: {
    http: 400,
    doc: "a JSON string to canonicalize (tee-pubkey) holds a lone UTF-16 surrogate (RFC 8785)",
    page: "kbs.md",
  },
  JCS_NUMBER_NOT_FINITE: { doc: "a number to canonicalize is NaN or infinite", page: "kbs.md" },
  JCS_TOO_DEEP: {
    http: 400,
    doc: "a value to canonicalize (tee-pubkey) nests more than 64 levels",
    page: "kbs.md",
  },
  JCS_UNSUPPORTED_VALUE: {
    doc: "a value to canonicalize has no JSON form (a function, a bigint, undefined)",
    page: "kbs.md",
  },
  KBS_ATTESTATION_POLICY_DENIED: {
    http: 403,
    doc: "the attestation policy refused the evidence; denials holds every failed rule",
    page: "kbs.md",
  },
  KBS_AUDIT_PRUNE_INVALID: {
    http: 400,
    doc: "the audit prune date is missing, not a date, or within the last hour",
    page: "kbs.md",
  },
  KBS_COLLATERAL_UNAVAILABLE: {
    http: 503,
    doc: "the broker cannot get collateral for the TD's platform (reason: the collateral code, e.g. PCS_UNREACHABLE); Retry-After",
    page: "kbs.md",
  },
  KBS_DB_OPEN_FAILED: { doc: "the broker's SQLite database cannot be created or opened", page: "kbs.md" },
  KBS_DB_SCHEMA_MISMATCH: {
    doc: "the database was made by a newer broker (another schema version)",
    page: "kbs.md",
  },
  KBS_DB_UNAVAILABLE: {
    http: 503,
    doc: "the broker's database does not answer (the condition is named, no address); Retry-After",
    page: "kbs.md",
  },
  KBS_DB_URL_INVALID: {
    doc: "a database URL that is not sqlite:PATH or postgres://, or a bad synchronous= option",
    page: "kbs.md",
  },
  KBS_EVENTLOG_MISMATCH: {
    http: 401,
    doc: "the event log does not replay to the quote's RTMRs",
    page: "kbs.md",
  },
  KBS_EVIDENCE_INVALID: {
    http: 400,
    doc: "tee-evidence is not readable (not base64, an empty quote, not az-tdx-vtpm JSON on an Azure session); data.cause has the parser's error",
    page: "kbs.md",
  },
  KBS_EVIDENCE_REJECTED: {
    http: 401,
    doc: "the evidence did not parse as a TD quote or did not verify; field/offset and problems carry the verifier's error",
    page: "kbs.md",
  },
  KBS_HASH_ALGORITHM_UNSUPPORTED: {
    http: 400,
    doc: "none of the offered runtime-data hash algorithms is supported",
    page: "kbs.md",
  },
  KBS_HTTP_ERROR: {
    doc: "(client) the broker answered an HTTP error without a code this version knows (another broker, no problem document); data.status, data.code",
    page: "kbs.md",
  },
  KBS_INIT_DATA_MISMATCH: {
    http: 401,
    doc: "the init-data digest (padded to 48 bytes) is not MRCONFIGID (Azure: PCR 8 is not one extend of it); expected, actual",
    page: "kbs.md",
  },
  KBS_JWE_FAILED: { doc: "a bug: the JWE library returned an incomplete flattened JWE", page: "kbs.md" },
  KBS_KEK_INVALID: {
    doc: "the key-encryption key is not 32 bytes (raw, 64 hex digits or base64)",
    page: "kbs.md",
  },
  KBS_KEK_MISMATCH: {
    doc: "a secret was sealed under another key-encryption key than the broker runs with",
    page: "kbs.md",
  },
  KBS_KEK_MISSING: { doc: "no key-encryption key is configured, or its file does not exist", page: "kbs.md" },
  KBS_NONCE_MISMATCH: {
    http: 401,
    doc: "runtime-data.nonce is not this session's challenge nonce",
    page: "kbs.md",
  },
  KBS_NONCE_REPLAYED: {
    http: 401,
    doc: "the nonce was already used (here or on another broker)",
    page: "kbs.md",
  },
  KBS_NOT_ATTESTED: {
    http: 401,
    doc: "a resource was asked before a successful attestation (or its claims are gone)",
    page: "kbs.md",
  },
  KBS_POLICY_ID_INVALID: {
    http: 400,
    doc: "a policy id with characters other than letters, digits, '.', '_', '-'",
    page: "kbs.md",
  },
  KBS_POLICY_IN_USE: {
    http: 409,
    doc: "a policy still in use (by resources, or the attestation policy /attest applies) cannot be deleted",
    page: "kbs.md",
  },
  KBS_POLICY_KIND_INVALID: {
    http: 400,
    doc: "a policy kind other than attestation or resource",
    page: "kbs.md",
  },
  KBS_POLICY_NOT_FOUND: { http: 404, doc: "no such policy", page: "kbs.md" },
  KBS_PROTOCOL_VERSION_MISMATCH: {
    http: 401,
    doc: "the client's KBS protocol version is not 0.4.0",
    page: "kbs.md",
  },
  KBS_REGO_UNSUPPORTED: {
    http: 400,
    doc: "a Rego policy other than Trustee's canned ones (the broker evaluates JSON rules)",
    page: "kbs.md",
  },
  KBS_REPORTDATA_MISMATCH: {
    http: 401,
    doc: "REPORTDATA (Azure: the TPM nonce or v2 user-data) is not H(JCS(runtime data)) of this session; expected, actual in hex",
    page: "kbs.md",
  },
  KBS_REQUEST_INVALID: { http: 400, doc: "a malformed request (the field is named)", page: "kbs.md" },
  KBS_RESOURCE_NOT_FOUND: { http: 404, doc: "no such resource", page: "kbs.md" },
  KBS_RESOURCE_PATH_INVALID: {
    http: 400,
    doc: "a resource path that is not REPOSITORY/TYPE/TAG (or a segment too long)",
    page: "kbs.md",
  },
  KBS_RESOURCE_POLICY_DENIED: {
    http: 403,
    doc: "the resource policy refused the release; denials (403 as Trustee's PolicyDeny, kbs/src/error.rs: guest-components stops at once instead of re-attesting three times as on 401)",
    page: "kbs.md",
  },
  KBS_RESOURCE_POLICY_INVALID: {
    http: 400,
    doc: "a resource policy that cannot be read (refused, never stored)",
    page: "kbs.md",
  },
  KBS_RESOURCE_SIZE: { http: 400, doc: "a resource of 0 bytes or more than 1 MiB", page: "kbs.md" },
  KBS_RESPONSE_DECRYPT_FAILED: {
    doc: "(client) the released resource's JWE does not decrypt with the TEE key",
    page: "kbs.md",
  },
  KBS_RESPONSE_INVALID: {
    doc: "(client) the broker's answer is not a KBS answer (no nonce, an unknown hash, no token)",
    page: "kbs.md",
  },
  KBS_SEALED_DATA_CORRUPT: {
    doc: "a sealed database value failed authentication: altered, or moved from another record",
    page: "kbs.md",
  },
  KBS_SESSION_EXPIRED: { http: 401, doc: "the session is older than the session lifetime", page: "kbs.md" },
  KBS_SESSION_MISSING: { http: 401, doc: "no kbs-session-id cookie was sent", page: "kbs.md" },
  KBS_SESSION_UNKNOWN: {
    http: 401,
    doc: "the kbs-session-id is not a session of this broker",
    page: "kbs.md",
  },
  KBS_TEE_PUBKEY_INVALID: {
    http: 400,
    doc: "tee-pubkey is not a public EC P-256/384/521 or RSA (2048 bits or more) JWK with a fitting alg",
    page: "kbs.md",
  },
  KBS_TEE_UNSUPPORTED: {
    http: 400,
    doc: "tee is not tdx or az-tdx-vtpm (or the broker's verifier does not do az-tdx-vtpm)",
    page: "kbs.md",
  },
  KBS_TOKEN_EXPIRED: { http: 401, doc: "the attestation token has expired", page: "kbs.md" },
  KBS_TOKEN_INVALID: {
    http: 401,
    doc: "the bearer token is not this broker's, or was altered",
    page: "kbs.md",
  },
  KBS_TOKEN_KEY_INVALID: { doc: "the token signing key is not an EC P-256 private key", page: "kbs.md" },
  KBS_UNREACHABLE: { doc: "(client) the key broker cannot be reached at the URL given", page: "kbs.md" },
  QUOTE_NOT_VERIFIED: {
    doc: "the verifier said no without naming a step (not expected; kept in problems of KBS_EVIDENCE_REJECTED)",
    page: "kbs.md",
  },
} as const satisfies ErrorTable;
