import type { ErrorTable } from "../errors.js";

/** Error codes of cli/: the `tdx-attest` command's flags, files and output. */
export const CLI_ERRORS = {
  EVENTLOG_BAD_FORMAT_OPTION: { doc: "an event log --format the CLI does not know", page: "eventlog.md" },
  EVENTLOG_UNKNOWN_QUIRK: {
    doc: "an event log --quirk the CLI does not know (the hint lists them)",
    page: "eventlog.md",
  },
  GUEST_BAD_HEX: {
    doc: "a guest command's hex option (--report-data, --data-hex) longer than it may be",
    page: "guest.md",
  },
  GUEST_BAD_NONCE: {
    doc: "--nonce is not base64, or az-tdx-vtpm evidence was asked without the relying party's nonce",
    page: "guest.md",
  },
  GUEST_EVENT_DATA: { doc: "extend needs exactly one of --data, --data-hex, --data-file", page: "guest.md" },
  GUEST_EVIDENCE_UNSUPPORTED: {
    doc: "`evidence` with a provider that makes TD quotes (tee tdx): use `quote`",
    page: "guest.md",
  },
  GUEST_EVIDENCE_VERSION: { doc: "--evidence-version is not 0, 1 or 2", page: "guest.md" },
  GUEST_QUOTE_VERSION: { doc: "--quote-version is not 4 or 5", page: "guest.md" },
  GUEST_REPORT_DATA_CONFLICT: {
    doc: "--report-data with --nonce, or --nonce with --nonce-hex: give one",
    page: "guest.md",
  },
  GUEST_UNKNOWN_TEE: { doc: "`evidence --tee` other than az-tdx-vtpm", page: "guest.md" },
  HEX_OPTION_NOT_HEX: {
    doc: "a hex option (--report-data, --data-hex, also sim's) with a character that is no hex digit (its offset given)",
    page: "guest.md",
  },
  HEX_OPTION_ODD_LENGTH: { doc: "a hex option with an odd number of digits", page: "guest.md" },
  INPUT_UNREADABLE: { doc: "an input file (or stdin) cannot be read; the path and errno are named" },
  KBS_ADMIN_CREDENTIAL_MISSING: {
    doc: "a `kbs` admin command without --admin-token-file, --admin-key or the admin token variable",
    page: "kbs.md",
  },
  KBS_EVENTLOG_UNSUPPORTED: {
    doc: "get-resource --eventlog with az-tdx-vtpm evidence: the RTMRs are the paravisor's",
    page: "kbs.md",
  },
  KBS_KEY_TYPE_INVALID: { doc: "get-resource --key-type is not ec or rsa", page: "kbs.md" },
  KBS_PROVIDER_INVALID: {
    doc: "get-resource --provider is not a quote provider (the hint lists them)",
    page: "kbs.md",
  },
  OUTPUT_UNWRITABLE: { doc: "an output file cannot be written; the path and errno are named" },
  QGS_BAD_TIMEOUT: { doc: "--timeout-ms is not a positive integer", page: "qgs.md" },
  QGS_NO_ADDRESS: { doc: "no --qgs address was given", page: "qgs.md" },
  SIM_EVIDENCE_VERSION: { doc: "demo --evidence-version is not 0, 1 or 2", page: "sim.md" },
  SIM_EXTEND_INPUT: { doc: "sim extend without --digest or --data", page: "sim.md" },
  SIM_PLATFORM: {
    doc: "--platform is not tdx or azure, or --init-data with --platform azure (Azure binds init-data through PCR 8)",
    page: "sim.md",
  },
  SIM_REPORT_DATA_INVALID: { doc: "sim's --report-data is longer than 64 bytes", page: "sim.md" },
  SIM_STATE_REQUIRED: { doc: "a sim command without --sim-state DIR", page: "sim.md" },
  USAGE: { doc: "wrong flags (the flag is named)", page: "verify.md" },
  USAGE_PCCS_MISSING: { doc: "collateral fetch without --pccs", page: "collateral.md" },
  USAGE_TIME: { doc: "--at is neither unix seconds nor ISO 8601", page: "collateral.md" },
  USAGE_TIMEOUT: { doc: "--timeout is not a positive number of milliseconds", page: "collateral.md" },
} as const satisfies ErrorTable;
