import type { ErrorTable } from "../errors.js";

/** Error codes of sim/: the simulated TDX module, Quoting Enclave, PKI, state folder, vTPM and paravisor. */
export const SIM_ERRORS = {
  SIM_DER_VALUE_INVALID: {
    doc: "the simulated PKI's DER encoder was asked for an INTEGER that is negative or not whole",
    page: "sim.md",
  },
  SIM_IMDS_BAD_REQUEST: {
    doc: 'the simulated IMDS request is not {"report": base64url} of a 1024-byte TDREPORT',
    page: "sim.md",
  },
  SIM_KEY_INVALID: { doc: "a key file of the simulated platform is not a P-256 PKCS#8 key", page: "sim.md" },
  SIM_PCK_EXTENSION_INVALID: {
    doc: "encodeSgxExtension was given other than 16 SVNs, or an SVN, PCESVN or SGX type that is not a whole number",
    page: "sim.md",
  },
  SIM_PCK_CA: { doc: 'a PCK CA option other than "platform" or "processor"', page: "sim.md" },
  SIM_QUOTE_VERSION: {
    doc: "a quote version not 4/5, or a body the Quoting Enclave does not quote in that version (TD 1.5 needs v5)",
    page: "sim.md",
  },
  SIM_REPORT_DATA_SIZE: { doc: "REPORTDATA that is not 64 bytes", page: "sim.md" },
  SIM_RTMR_EXTEND_SIZE: { doc: "an RTMR extend whose data is not 48 bytes", page: "sim.md" },
  SIM_RTMR_INDEX: { doc: "an RTMR index outside 0..3", page: "sim.md" },
  SIM_SCENARIO_NEEDS_TDX15: {
    doc: "a scenario (tdx-module-out-of-date, td-relaunch-*) asked of a platform with a TDX 1.0 module",
    page: "sim.md",
  },
  SIM_STATE_EXISTS: {
    doc: "the state folder already holds a simulated platform (or paravisor)",
    page: "sim.md",
  },
  SIM_STATE_INVALID: { doc: "a file of the state folder is damaged (the file is named)", page: "sim.md" },
  SIM_STATE_LOCKED: {
    doc: "another live process kept the state folder's lock past the wait (10 s by default); data.owner names it",
    page: "sim.md",
  },
  SIM_STATE_MISSING: {
    doc: "no simulated platform (or paravisor) in the state folder: create one with `tdx-attest sim init`",
    page: "sim.md",
  },
  SIM_STATE_UNWRITABLE: {
    doc: "the state folder, a file in it or its lock cannot be written",
    page: "sim.md",
  },
  SIM_TDREPORT_MAC_INVALID: {
    doc: "the TDREPORT's MAC does not verify on this platform: altered, or taken on another platform",
    page: "sim.md",
  },
  SIM_TDREPORT_TEE_INFO_HASH: { doc: "a TDREPORT whose TDINFO was altered (TEE_INFO_HASH)", page: "sim.md" },
  SIM_TDREPORT_TEE_TCB_INFO_HASH: { doc: "a TDREPORT whose TEE_TCB_INFO was altered", page: "sim.md" },
  SIM_TDREPORT_TYPE: { doc: "not a TDX TDREPORT (REPORTTYPE)", page: "sim.md" },
  SIM_TDX_MODULE_VERSION: {
    doc: "a TDX module version that is not simulated, or a TD-preserving update asked of a TDX 1.0 module",
    page: "sim.md",
  },
  SIM_TD_DESCRIPTION_INVALID: {
    doc: "a TD description that does not read (the field is named)",
    page: "sim.md",
  },
  SIM_TD_IMAGE_INVALID: {
    doc: "a TD image section that is not page-aligned, has no pages, or holds more than its pages",
    page: "sim.md",
  },
  SIM_UNKNOWN_SCENARIO: {
    doc: "no such simulation scenario (`tdx-attest sim scenarios` lists them)",
    page: "sim.md",
  },
  SIM_VTPM_BANK: { doc: "a simulated vTPM PCR bank of a hash the simulator does not know", page: "sim.md" },
  SIM_VTPM_DIGEST_SIZE: {
    doc: "a simulated vTPM extend digest of the wrong size for its bank",
    page: "sim.md",
  },
  SIM_VTPM_KEY: { doc: "the simulated vTPM's attestation key is not an RSA key", page: "sim.md" },
  SIM_VTPM_PCR: { doc: "no such PCR in the simulated vTPM's bank", page: "sim.md" },
} as const satisfies ErrorTable;
