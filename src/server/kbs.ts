/** The key broker's HTTP face and its process wiring (the quote explorer and the PCS server have their own modules). */

/** The evidence pipeline and the collateral providers live in src/attest, src/collateral and src/sim. */
export {
  type CollateralProvider,
  TdxEvidenceVerifier,
  TdxEvidenceVerifier as DcapEvidenceVerifier,
} from "../attest/index.js";
export { PcsCollateralProvider } from "../collateral/provider.js";
export { SimCollateralProvider } from "../sim/collateral-provider.js";
export { ADMIN_JWT_AUDIENCE, AdminAuth, signAdminJwt } from "./admin-auth.js";
export { type BrokerConfig, configFromEnv, parseListen, readConfigFile, resolveConfig } from "./config.js";
export { buildKbsApp, type KbsAppOptions, SESSION_COOKIE } from "./kbs-app.js";
export { KbsMetrics } from "./metrics.js";
export { problemOf, problemType } from "./problem.js";
export { RateLimiter } from "./rate-limit.js";
export {
  ADMIN_TOKEN_ENV,
  closeOnSignals,
  DEMO_POLICY,
  DEMO_RESOURCE,
  DISK_UNLOCK_POLICY,
  type RunningBroker,
  startBroker,
} from "./serve.js";
