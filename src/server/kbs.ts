/** The key broker's HTTP face and its process wiring (the quote explorer and the PCS server have their own modules). */
export { ADMIN_JWT_AUDIENCE, AdminAuth, signAdminJwt } from "./admin-auth.js";
export { PcsCollateralProvider, SimCollateralProvider } from "./collateral-providers.js";
export { type BrokerConfig, configFromEnv, parseListen, readConfigFile, resolveConfig } from "./config.js";
export { type CollateralProvider, DcapEvidenceVerifier } from "./dcap-evidence.js";
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
