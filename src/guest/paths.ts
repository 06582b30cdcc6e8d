/** Where a Linux TD exposes its attestation interfaces (guest-abi §0.1), under an injectable root for tests. */
import { join } from "node:path";

export interface GuestPaths {
  /** configfs-tsm report directory (one subdirectory per request). */
  configfsReport: string;
  /** Mainline driver node (TDX_CMD_GET_REPORT0). */
  device: string;
  /** The 2022 seed driver node (TDX_CMD_GET_REPORT / TDX_CMD_GET_QUOTE). */
  legacyDevice: string;
  /** The misc device in sysfs (present whenever tdx_guest is loaded). */
  miscDevice: string;
  /** tsm-mr measurement registers (kernel 6.16+). */
  measurements: string;
  /** libtdx_attest's vsock port configuration. */
  attestConf: string;
  cpuinfo: string;
  /** The running kernel's release string (what its errnos mean depends on it). */
  osrelease: string;
  /** The TPM through the kernel's resource manager (Azure's vTPM holds the HCL report). */
  tpmrm: string;
  /** The raw TPM device (one user at a time). */
  tpm: string;
}

export function guestPaths(root = "/"): GuestPaths {
  return {
    configfsReport: join(root, "sys/kernel/config/tsm/report"),
    device: join(root, "dev/tdx_guest"),
    legacyDevice: join(root, "dev/tdx-attest"),
    miscDevice: join(root, "sys/class/misc/tdx_guest"),
    measurements: join(root, "sys/class/misc/tdx_guest/measurements"),
    attestConf: join(root, "etc/tdx-attest.conf"),
    cpuinfo: join(root, "proc/cpuinfo"),
    osrelease: join(root, "proc/sys/kernel/osrelease"),
    tpmrm: join(root, "dev/tpmrm0"),
    tpm: join(root, "dev/tpm0"),
  };
}
