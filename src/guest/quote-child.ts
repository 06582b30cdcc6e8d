/**
 * The seed driver's TDX_CMD_GET_QUOTE (cc-api/linux arch/x86/coco/tdx/attest.c, tdx_get_quote) waits in
 * wait_for_completion_interruptible() with no timeout until the host's completion interrupt: a host that never
 * answers blocks the calling thread forever. An ioctl is a synchronous system call, so on Node's main thread it
 * would freeze the event loop (a key broker client would stop answering anything).
 *
 * So the ioctl runs in a child process, with a deadline. Not a worker thread: a thread blocked in a system call
 * cannot be stopped, and Node joins its worker threads at exit, so one stuck ioctl would also keep the process
 * from ever exiting (measured: `process.exit()` hangs). A child process is killed with SIGKILL at the deadline;
 * the seed driver handles that (a fatal signal ends the wait, terminate_quote_request() leaves the shared buffer
 * to the completion handler, which frees it once the host answers).
 *
 * The child owns the GetQuote buffer (the ioctl argument points into its memory), so the whole
 * open/alloc/ioctl/copy-back runs there. It is plain JavaScript passed with `-e`, so it runs the same from the
 * sources and from dist/.
 */
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { TdxError } from "../errors.js";

/** Where the child gets its ioctl from, instead of koffi over libc (tests: a fake VMM). */
export interface QuoteChildHost {
  /** URL of an ES module exporting `createQuoteLibc(data)` → {ioctl, errno, allocPinned}. */
  module: string;
  data?: unknown;
}

export interface QuoteChildCall {
  path: string;
  request: number;
  /** The GetQuote buffer (header + payload), copied into the child's pinned memory. */
  buffer: Uint8Array;
  timeoutMs: number;
  host?: QuoteChildHost;
}

export interface QuoteChildResult {
  rc: number;
  errno: number;
  buffer: Uint8Array;
  /** Milliseconds from spawn to answer. */
  elapsedMs: number;
}

const CHILD_CODE = `
import { closeSync, constants, openSync } from "node:fs";
const chunks = [];
for await (const c of process.stdin) chunks.push(c);
const input = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const out = (v) => process.stdout.write(JSON.stringify(v) + "\\n");
let libc;
try {
  if (input.module) libc = await (await import(input.module)).createQuoteLibc(input.data);
  else {
    const mod = await import(input.koffi);
    const koffi = mod.default ?? mod;
    const lib = koffi.load("libc.so.6");
    const ioctl = lib.func("int ioctl(int, unsigned long, ...)");
    libc = {
      ioctl: (fd, req, arg) => ioctl(fd, req, "void *", arg),
      errno: () => koffi.errno(),
      allocPinned: (size) => {
        const ptr = koffi.alloc("uint8_t", size);
        return { address: BigInt(koffi.address(ptr)), bytes: new Uint8Array(koffi.view(ptr, size)), free: () => koffi.free(ptr) };
      },
    };
  }
} catch (e) {
  out({ ffiError: String((e && e.message) || e) });
  process.exit(0);
}
let fd;
try {
  fd = openSync(input.path, constants.O_RDWR);
} catch (e) {
  out({ openError: { code: e.code, message: e.message } });
  process.exit(0);
}
const mem = libc.allocPinned(input.size);
mem.bytes.set(Buffer.from(input.buffer, "base64"));
const arg = new Uint8Array(16);
const dv = new DataView(arg.buffer);
dv.setBigUint64(0, mem.address, true);
dv.setBigUint64(8, BigInt(input.size), true);
const rc = await libc.ioctl(fd, input.request, arg);
const errno = rc < 0 ? libc.errno() : 0;
out({ rc, errno, buffer: Buffer.from(mem.bytes).toString("base64") });
mem.free();
closeSync(fd);
`;

function koffiUrl(): string {
  try {
    return pathToFileURL(createRequire(import.meta.url).resolve("koffi")).href;
  } catch (e) {
    throw new TdxError("FFI_UNAVAILABLE", "the optional dependency koffi is not installed", {
      cause: e,
      hint: "npm install koffi (needed for /dev/tdx-attest ioctls); configfs-tsm and unix:/tcp: QGS addresses work without it",
    });
  }
}

/** Run one GetQuote-style ioctl (argument {u64 buf; u64 len}) in a child process, killed at the deadline. */
export function runQuoteIoctlInChild(call: QuoteChildCall): Promise<QuoteChildResult> {
  const input = {
    path: call.path,
    request: call.request,
    size: call.buffer.length,
    buffer: Buffer.from(call.buffer).toString("base64"),
    ...(call.host ? { module: call.host.module, data: call.host.data ?? null } : { koffi: koffiUrl() }),
  };
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", CHILD_CODE], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let settled = false;
    const settle = (f: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      f();
    };
    const timer = setTimeout(() => {
      settle(() => {
        // The child may sit in the ioctl for good: kill it and never wait for it.
        child.kill("SIGKILL");
        child.stdout.destroy();
        child.stderr.destroy();
        child.unref();
        reject(
          new TdxError(
            "GUEST_QUOTE_DEADLINE",
            `no quote from the host within ${call.timeoutMs} ms: TDX_CMD_GET_QUOTE on ${call.path} was still waiting (the seed driver waits without a timeout), so its process (pid ${child.pid}) was killed`,
            {
              hint: "the host's quote service does not answer: check the VMM's GetQuote handling and the QGS on the host (journalctl -u qgsd); raise the deadline with quoteTimeoutMs if the host is only slow",
              data: { path: call.path, timeoutMs: call.timeoutMs, childPid: child.pid },
            },
          ),
        );
      });
    }, call.timeoutMs);
    child.stdout.setEncoding("utf8").on("data", (s: string) => {
      stdout += s;
    });
    child.stderr.setEncoding("utf8").on("data", (s: string) => {
      stderr += s;
    });
    child.on("error", (e) =>
      settle(() =>
        reject(
          new TdxError(
            "GUEST_QUOTE_WORKER_FAILED",
            `cannot start the process for TDX_CMD_GET_QUOTE: ${e.message}`,
            {
              cause: e,
              hint: "check that node can start a child process here (process limits, seccomp)",
            },
          ),
        ),
      ),
    );
    child.on("close", (code, signal) =>
      settle(() => {
        const line = stdout.trim().split("\n").pop() ?? "";
        let msg: {
          rc?: number;
          errno?: number;
          buffer?: string;
          ffiError?: string;
          openError?: { code: string; message: string };
        };
        try {
          msg = JSON.parse(line);
        } catch {
          reject(
            new TdxError(
              "GUEST_QUOTE_WORKER_FAILED",
              `the process for TDX_CMD_GET_QUOTE ended (${signal ?? `exit ${code}`}) without an answer${stderr ? `: ${stderr.trim().slice(-400)}` : ""}`,
              { hint: "this is a bug or a crash in the ioctl layer; please report it with the output above" },
            ),
          );
          return;
        }
        if (msg.ffiError !== undefined) {
          reject(
            new TdxError("FFI_UNAVAILABLE", `koffi or libc cannot load: ${msg.ffiError}`, {
              hint: "npm install koffi on a glibc-based Linux; or use configfs-tsm / a unix:/tcp: QGS",
            }),
          );
          return;
        }
        if (msg.openError !== undefined) {
          const e = Object.assign(new Error(msg.openError.message), { code: msg.openError.code });
          reject(e);
          return;
        }
        resolve({
          rc: msg.rc ?? -1,
          errno: msg.errno ?? 0,
          buffer: new Uint8Array(Buffer.from(msg.buffer ?? "", "base64")),
          elapsedMs: Date.now() - started,
        });
      }),
    );
    child.stdin.end(JSON.stringify(input));
  });
}
