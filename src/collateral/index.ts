/** Collateral: the type and its JSON file format, Intel PCS v4 / PCCS readers and client, expiry-driven cache. */
export { type Artifact, type CacheStats, CollateralCache, type CollateralCacheOptions } from "./cache.js";
export {
  type CaType,
  INTEL_PCS_URL,
  INTEL_ROOT_CA_CRL_URL,
  PcsClient,
  type PcsClientOptions,
  parseRetryAfter,
  type TeeKind,
  type UpdateType,
} from "./client.js";
export { readCollateral, writeCollateral } from "./json.js";
export {
  type CrlItem,
  ISSUER_CHAIN_HEADERS,
  issuerChainFromHeaders,
  type QeIdentityItem,
  rawMemberText,
  readCrl,
  readIssuerChainHeader,
  readQeIdentityResponse,
  readTcbInfoResponse,
  type SignedJsonItem,
  splitPemCertificates,
  type TcbInfoItem,
} from "./pcs.js";
export {
  type CollateralProvider,
  type CollateralProviderStats,
  PcsCollateralProvider,
  type PcsCollateralProviderOptions,
} from "./provider.js";
export {
  type CollateralRequestOptions,
  CollateralService,
  type CollateralServiceOptions,
  type FetchCollateralOptions,
  type FetchedCollateral,
  fetchCollateralForQuote,
  isQuoteFault,
  type PlatformCollateralKey,
  platformOfQuote,
  toUnixMs,
} from "./service.js";
export { CollateralTrust, type CollateralTrustAnchor } from "./trust.js";
export { COLLATERAL_JSON_FIELDS, type Collateral, type CollateralJsonField } from "./types.js";
