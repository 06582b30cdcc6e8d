/** Intel's SGX Root CA: kept in src/crypto/ so that verify/ and collateral/ share one copy. */
export { INTEL_SGX_ROOT_CA_PEM, INTEL_SGX_ROOT_CA_SHA256 } from "../crypto/intel-root.js";
