/**
 * tdx-attest: Intel TDX remote attestation end to end.
 *
 * The package root is the stable API: the error type and its codes, the types a caller handles, and the
 * entry points of each part. Everything else (layouts, protocol constants, helpers) is on the part's subpath
 * (tdx-attest/abi, tdx-attest/verify, ...), and what no subpath exports is internal.
 *
 * Importing the root loads no optional package (fastify, prom-client, better-sqlite3, pg, koffi) and no
 * certificate builder: each name comes from the module that defines it, not from a part's barrel, and the
 * stores and the simulator load their packages on first use (src/optional.ts, src/sim/pki.ts).
 */

// abi: parse and serialize quotes and TDREPORTs.
export { tdAttributeNames, xfamNames } from "./abi/attributes.js";
export { type AzTdxVtpmEvidence, parseAzTdxVtpmEvidence } from "./abi/az-evidence.js";
export { fromHex, toHex } from "./abi/bytes.js";
export { decodeInputBytes, readQuoteInput } from "./abi/input.js";
export { type JsonObject, type JsonValue, quoteToJson, tdReportToJson } from "./abi/json.js";
export { parseQuote, pckCertChainOf, type QuoteInput, serializeQuote } from "./abi/quote.js";
export { parseTdReport, serializeTdReport } from "./abi/tdreport.js";
export type {
  CertificationData,
  FieldRange,
  Quote,
  QuoteBody,
  QuoteHeader,
  QuoteSignatureData,
  SgxReportBody,
  TdReport,
  TdReportBody,
} from "./abi/types.js";
// attest: the evidence pipeline (a TD quote with its event log and init-data, or Azure az-tdx-vtpm evidence).
export { type InitData, readInitData } from "./attest/init-data.js";
export {
  type AttestedTeeEvidence,
  SUPPORTED_TEES,
  type SupportedTee,
  type TeeEvidence,
  verifyTeeEvidence,
} from "./attest/tee.js";
export { type AttestedTdxEvidence, type EvidenceVerifier, TdxEvidenceVerifier } from "./attest/verifier.js";
// collateral: the bundle, its JSON file, Intel PCS / PCCS with an expiry-driven cache.
export { INTEL_PCS_URL, PcsClient, type PcsClientOptions } from "./collateral/client.js";
export { readCollateral, writeCollateral } from "./collateral/json.js";
export {
  type CollateralProvider,
  PcsCollateralProvider,
  type PcsCollateralProviderOptions,
} from "./collateral/provider.js";
export {
  CollateralService,
  type CollateralServiceOptions,
  type FetchCollateralOptions,
  fetchCollateralForQuote,
} from "./collateral/service.js";
export type { Collateral } from "./collateral/types.js";
// Errors: one type, a stable code, the field or offset, a hint; the registry of every code (HTTP status, doc line).
export {
  ERROR_CODES,
  type ErrorFolder,
  errorEntry,
  httpStatusOf,
  isErrorCode,
  type RegisteredError,
  registeredErrors,
} from "./error-registry.js";
export * from "./errors.js";

// eventlog: CCEL / TCG, dstack and runtime logs, RTMR replay.
export {
  type ParsedEventLog,
  type ParseEventLogOptions,
  parseEventLog,
  type ReplayOptions,
  type ReplayReport,
  replayEventLog,
  replayEventLogs,
} from "./eventlog/replay.js";
export { parseRuntimeLog, type RuntimeLog, type RuntimeLogEntry } from "./eventlog/runtime.js";

// guest: inside a TD, the providers of TDREPORTs, quotes and RTMR extends.
export { type GuestStatus, openProvider, type ProbeOptions, probeGuest } from "./guest/probe.js";
export {
  type GuestProvider,
  type GuestProviderOptions,
  PROVIDER_NAMES,
  type ProviderName,
} from "./guest/providers.js";
export { appendRuntimeEvent, readRuntimeLog } from "./guest/runtime-log-file.js";

// kbs: the key broker's client (in a TD) and service (behind an HTTP face of your own or `tdx-attest serve`).
export { generateTeeKeyPair, KbsClient, type KbsClientOptions, type TeeKeyPair } from "./kbs/client.js";
export { loadKek, parseKek } from "./kbs/kek.js";
export { KbsService, type KbsServiceOptions } from "./kbs/service.js";
export { KbsStore, openStore } from "./kbs/store/index.js";

// policy: appraisal against reference values, every denial explained.
export { type Appraisal, appraise, assertAllowed, type Denial } from "./policy/appraise.js";
export { DEFAULT_POLICY, type Policy, policyFromJson, readPolicy } from "./policy/schema.js";

// qgs: Intel's Quote Generation Service protocol, client and server.
export { formatQgsAddress, parseQgsAddress, type QgsAddress } from "./qgs/address.js";
export {
  type QgsClientOptions,
  qgsGetCollateral,
  qgsGetPlatformInfo,
  qgsGetQuote,
} from "./qgs/client.js";
export { type QgsServer, type QgsServerOptions, type QuotingBackend, startQgsServer } from "./qgs/server.js";
export { openSimQuotingBackend } from "./qgs/sim-backend.js";

// the quote explorer as static files to host anywhere (it decodes and verifies in the page).
export { writeStaticExplorer } from "./server/explorer/assets.js";

// sim: a simulated TDX platform (and Azure TDX VM) with its Intel-like PKI and collateral.
export { SimCollateralProvider } from "./sim/collateral-provider.js";
export { createSimAzureParavisor, SimAzureParavisor } from "./sim/paravisor.js";
export {
  createSimPlatform,
  initSimPlatform,
  loadSimPlatform,
  type SimCollateralBundle,
  SimPlatform,
  type SimPlatformOptions,
} from "./sim/platform.js";
export { SCENARIOS, type ScenarioName } from "./sim/scenarios.js";
export {
  type AzTdxVtpmResult,
  verifyAzTdxVtpm,
  verifyAzTdxVtpmAsync,
} from "./verify/az-tdx-vtpm.js";
export { INTEL_SGX_ROOT_CA_PEM, INTEL_SGX_ROOT_CA_SHA256 } from "./verify/intel-root.js";
// verify: DCAP quote verification with Intel QVL's verdicts, explained step by step.
export type { TcbStatus, VerificationCheck, VerificationError, VerificationResult } from "./verify/result.js";
export {
  type TrustAnchorInput,
  type TrustRoot,
  Verifier,
  type VerifierOptions,
  type VerifyOptions,
  verifyQuote,
  verifyQuoteAsync,
} from "./verify/verifier.js";
