/** The TCB Info / QE Identity models live in src/collateral/ (the formats that carry them). */
export {
  parseQeIdentity,
  QE_TCB_STATUSES,
  type QeIdentity,
  type QeTcbLevel,
  type QeTcbStatus,
  readSignedQeIdentity,
} from "../collateral/qe-identity.js";
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
} from "../collateral/tcb-info.js";
