/**
 * `tdx-attest/collateral/readers`: the collateral readers and writers without the fetching client and the
 * file cache (those need Node): the collateral JSON file format, Intel PCS v4 responses, signed TCB Info and
 * QE Identity. No `node:` import on this graph: it runs in browsers, Deno, Bun and edge workers.
 */
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
  parseQeIdentity,
  QE_TCB_STATUSES,
  type QeIdentity,
  type QeTcbLevel,
  type QeTcbStatus,
  readSignedQeIdentity,
} from "./qe-identity.js";
export {
  parseTcbInfo,
  readSignedTcbInfo,
  type SignedJson,
  TCB_STATUSES,
  type TcbInfo,
  type TcbLevel,
  type TcbLevelStatus,
  TDX_MODULE_STATUSES,
  type TdxModuleIdentity,
  type TdxModuleTcbLevel,
} from "./tcb-info.js";
export { COLLATERAL_JSON_FIELDS, type Collateral, type CollateralJsonField } from "./types.js";
