/**
 * A fake Azure TDX confidential VM under a temp directory, backed by the simulated paravisor (src/sim/paravisor.ts):
 * `/dev/tpmrm0` (or `/dev/tpm0`) whose file operations carry raw TPM 2.0 commands to the simulated vTPM with the
 * kernel TPM driver's rules (torvalds/linux drivers/char/tpm/tpm-dev-common.c: one write() is one whole command,
 * a write while a response is unread is EBUSY, read() hands out the pending response and clears what it copied,
 * a read with nothing pending returns 0), and Azure's IMDS as a `fetch` over the paravisor's `/acc/tdquote`
 * exchange. What a real Azure TD lacks is absent: no configfs-tsm report, no /dev/tdx_guest; the `tdx_guest` CPU
 * flag can be shown in /proc/cpuinfo (a TD that is not usable through the TDX interfaces).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { GuestFile, GuestFs } from "../../src/guest/index.js";
import { guestPaths, nodeGuestFs } from "../../src/guest/index.js";
import type { SimAzureParavisor, SimVtpm } from "../../src/sim/index.js";
import { ErrnoError } from "./fake-kernel.js";

export interface FakeAzureOptions {
  /** Which device node exists (default tpmrm0). */
  device?: "tpmrm0" | "tpm0";
  /** /proc/cpuinfo shows the tdx_guest flag. */
  cpuFlag?: boolean;
}

/** What answers behind the device: a paravisor (vTPM + IMDS), or a bare vTPM (a TPM that is not Azure's). */
export type FakeAzureBackend = SimAzureParavisor | { vtpm: SimVtpm };

export class FakeAzureTd {
  readonly paths;
  readonly device: string;
  /** Command codes the device received, in order. */
  readonly commands: number[] = [];
  /** errno for open() of the device (EACCES: not root / not in tss). */
  openErrno: string | null = null;
  opens = 0;
  closes = 0;
  /** The IMDS behind 169.254.169.254: answers, is unreachable, or answers an HTTP error. */
  imds: "answers" | "down" | 500 = "answers";
  readonly imdsRequests: { url: string; headers: Record<string, string> }[] = [];

  constructor(
    readonly root: string,
    readonly backend: FakeAzureBackend,
    opts: FakeAzureOptions = {},
  ) {
    this.paths = guestPaths(root);
    this.device = opts.device === "tpm0" ? this.paths.tpm : this.paths.tpmrm;
    mkdirSync(dirname(this.device), { recursive: true });
    writeFileSync(this.device, "");
    if (opts.cpuFlag) {
      mkdirSync(dirname(this.paths.cpuinfo), { recursive: true });
      writeFileSync(this.paths.cpuinfo, "processor\t: 0\nflags\t\t: fpu vme tsc msr tdx_guest\n");
    }
  }

  /** The GuestFs a provider is given: the device node is the vTPM, everything else the real files. */
  readonly fs: GuestFs = {
    exists: (p) => nodeGuestFs.exists(p),
    readdir: (p) => nodeGuestFs.readdir(p),
    mkdir: (p) => nodeGuestFs.mkdir(p),
    rmdir: (p) => nodeGuestFs.rmdir(p),
    open: async (p, mode) => {
      if (p !== this.device) return nodeGuestFs.open(p, mode);
      if (this.openErrno) throw new ErrnoError(this.openErrno, `open ${p}`);
      this.opens++;
      return this.openDevice();
    },
  };

  private openDevice(): GuestFile {
    let pending: Uint8Array | null = null;
    let closed = false;
    return {
      write: async (buf) => {
        if (closed) throw new ErrnoError("EBADF", "closed");
        if (pending) throw new ErrnoError("EBUSY", "a response is still unread");
        if (buf.length > 4096) throw new ErrnoError("E2BIG", "command larger than TPM_BUFSIZE");
        this.commands.push(Buffer.from(buf).readUInt32BE(6));
        pending = this.backend.vtpm.execute(buf.slice());
        return buf.length;
      },
      read: async (buf) => {
        if (closed) throw new ErrnoError("EBADF", "closed");
        if (!pending) return 0;
        const n = Math.min(buf.length, pending.length);
        buf.set(pending.subarray(0, n));
        pending = n === pending.length ? null : pending.subarray(n);
        return n;
      },
      close: async () => {
        closed = true;
        this.closes++;
      },
    };
  }

  /** Azure's IMDS `/acc/tdquote`, as the provider's `fetch`. */
  readonly fetch: typeof fetch = async (input, init) => {
    const url = String(input);
    const headers = Object.fromEntries(
      Object.entries((init?.headers ?? {}) as Record<string, string>).map(([k, v]) => [k.toLowerCase(), v]),
    );
    this.imdsRequests.push({ url, headers });
    if (this.imds === "down") throw new TypeError("fetch failed: connect EHOSTUNREACH 169.254.169.254:80");
    if (this.imds === 500) return new Response("internal error", { status: 500 });
    if (!("imdsTdQuote" in this.backend)) return new Response("not found", { status: 404 });
    if (init?.method !== "POST" || headers.metadata !== "true" || !url.endsWith("/acc/tdquote"))
      return new Response("bad request", { status: 400 });
    return new Response(this.backend.imdsTdQuote(String(init.body)), {
      status: 200,
      headers: { "content-type": "application/json" },
    });
  };

  /** Options that put a provider on this fake. */
  get options() {
    return { root: this.root, fs: this.fs, fetch: this.fetch };
  }
}
