/**
 * The TPM character device as a Tpm2Transport: one write(2) of a whole command, one read(2) of the whole
 * response, as the kernel's TPM driver requires (drivers/char/tpm/tpm-dev-common.c: a write while a response is
 * pending is EBUSY, a read returns the whole response). /dev/tpmrm0 (the in-kernel resource manager) is
 * preferred; /dev/tpm0 works for a single user. The file operations go through a GuestFs, so tests put a fake
 * device (test/guest/fake-azure.ts, the simulated Azure vTPM) behind the path.
 *
 * Error codes: GUEST_TPM_MISSING (no such device), GUEST_PERMISSION_DENIED (not root / not in the tss group),
 * GUEST_TPM_BUSY (/dev/tpm0 held by another process, or a response still pending), GUEST_TPM_DEVICE_ERROR (any
 * other I/O failure), GUEST_TPM_RESPONSE_MALFORMED (an empty response).
 */
import { type ErrorCode, TdxError } from "../errors.js";
import { type GuestFile, type GuestFs, nodeGuestFs } from "./fs.js";
import type { Tpm2Transport } from "./tpm2-commands.js";

export const TPM_RESOURCE_MANAGER_DEVICE = "/dev/tpmrm0";
export const TPM_DEVICE = "/dev/tpm0";
/** TPM 2.0 responses fit in 4096 bytes (TPM_PT_MAX_RESPONSE_SIZE of PC-client TPMs); the kernel buffer is 4 KiB. */
const MAX_RESPONSE = 4096;

/** A failed system call on a TPM device as a TdxError with what to do about it. */
export function tpmDeviceError(path: string, op: string, e: unknown): TdxError {
  const code = (e as NodeJS.ErrnoException)?.code;
  const [tdx, hint]: [ErrorCode, string] =
    code === "ENOENT" || code === "ENODEV" || code === "ENXIO"
      ? [
          "GUEST_TPM_MISSING",
          "this VM has no TPM device: on Azure, use a confidential VM size with vTPM enabled; elsewhere use another provider",
        ]
      : code === "EACCES" || code === "EPERM"
        ? [
            "GUEST_PERMISSION_DENIED",
            `${path} is root-only (or the tss group's): run as root or join the group`,
          ]
        : code === "EBUSY"
          ? [
              "GUEST_TPM_BUSY",
              `${path} is held by another process (tpm2-abrmd?); use ${TPM_RESOURCE_MANAGER_DEVICE}`,
            ]
          : ["GUEST_TPM_DEVICE_ERROR", "see the cause; check dmesg for TPM driver errors"];
  return new TdxError(tdx, `cannot ${op} ${path}: ${code ?? (e instanceof Error ? e.message : String(e))}`, {
    field: path,
    hint,
    cause: e,
    ...(code ? { data: { errno: code, path } } : {}),
  });
}

/** A TPM device file as a transport. Opened on first use, kept open until `close`. */
export class Tpm2DeviceTransport implements Tpm2Transport {
  #file: Promise<GuestFile> | null = null;

  constructor(
    readonly path: string = TPM_RESOURCE_MANAGER_DEVICE,
    private readonly fs: GuestFs = nodeGuestFs,
  ) {}

  #open(): Promise<GuestFile> {
    this.#file ??= this.fs.open(this.path, "rw").catch((e) => {
      this.#file = null;
      throw tpmDeviceError(this.path, "open", e);
    });
    return this.#file;
  }

  async transmit(command: Uint8Array): Promise<Uint8Array> {
    const file = await this.#open();
    try {
      const written = await file.write(command);
      if (written !== command.length) {
        throw new TdxError(
          "GUEST_TPM_DEVICE_ERROR",
          `${this.path} took ${written} of ${command.length} bytes`,
          {
            field: this.path,
            hint: "the TPM driver must take a whole command in one write",
          },
        );
      }
      const buf = new Uint8Array(MAX_RESPONSE);
      const n = await file.read(buf);
      if (n === 0) {
        throw new TdxError("GUEST_TPM_RESPONSE_MALFORMED", `${this.path} returned no response`, {
          field: this.path,
          hint: `${this.path} is not a TPM character device; use ${TPM_RESOURCE_MANAGER_DEVICE}`,
        });
      }
      return buf.slice(0, n);
    } catch (e) {
      if (e instanceof TdxError) throw e;
      throw tpmDeviceError(this.path, "talk to", e);
    }
  }

  async close(): Promise<void> {
    const file = this.#file;
    this.#file = null;
    if (file) await (await file.catch(() => null))?.close();
  }
}
