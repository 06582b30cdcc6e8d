/**
 * A hostile collateral service for tests: an HTTP proxy on 127.0.0.1 in front of a real PCS (the
 * simulated PCS server, or the fake one) that can, per request, pass answers through, corrupt the TCB
 * Info signature, hang, trickle a body, redirect elsewhere, inflate (a gzip bomb), answer 429 with
 * Retry-After, 404, or 500. It counts the requests it saw by path.
 */
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import { gzipSync } from "node:zlib";

export type ProxyMode =
  | { kind: "pass" }
  /** Flip one hex digit of the `signature` of TCB Info answers (well-formed, but it does not verify). */
  | { kind: "corrupt-tcb-signature" }
  /** Replace TCB Info answers (body and issuer-chain header) with another service's. */
  | { kind: "tcb-from"; upstream: string }
  /** Never answer (the socket stays open). */
  | { kind: "hang" }
  /** Send status and headers, a few bytes of the body, then nothing. */
  | { kind: "trickle" }
  /** 302 to `location(path)`. Paths under /same/ are always passed on (a same-origin redirect target). */
  | { kind: "redirect"; location: (path: string) => string }
  /** 200 with a gzip bomb: a small body that inflates to `inflatedBytes`. */
  | { kind: "gzip-bomb"; inflatedBytes: number }
  | { kind: "status"; status: number; retryAfter?: string };

export class HostileProxy {
  readonly requests: string[] = [];
  /** What to do with each request; `only` limits it to paths starting with that prefix. */
  mode: ProxyMode = { kind: "pass" };
  only: string | null = null;
  url = "";
  private readonly server: Server;
  private readonly hanging = new Set<ServerResponse>();

  constructor(private upstream: string) {
    this.server = createServer((req, res) => {
      void this.handle(req, res);
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    for (const r of this.hanging) r.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Set a mode (for paths starting with `only`, else for every path). */
  set(mode: ProxyMode, only: string | null = null): void {
    this.mode = mode;
    this.only = only;
  }

  count(prefix = "/"): number {
    return this.requests.filter((r) => r.startsWith(prefix)).length;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = req.url ?? "/";
    this.requests.push(raw);
    const same = raw.startsWith("/same/");
    const path = same ? raw.slice("/same".length) : raw;
    const mode =
      !same && (this.only === null || path.startsWith(this.only)) ? this.mode : { kind: "pass" as const };
    switch (mode.kind) {
      case "hang":
        this.hanging.add(res);
        res.on("close", () => this.hanging.delete(res));
        return;
      case "redirect":
        res.writeHead(302, { location: mode.location(path) }).end();
        return;
      case "status":
        res
          .writeHead(mode.status, {
            "Error-Message": "hostile proxy",
            ...(mode.retryAfter ? { "Retry-After": mode.retryAfter } : {}),
          })
          .end();
        return;
      case "gzip-bomb": {
        const bomb = gzipSync(Buffer.alloc(mode.inflatedBytes, 0x20), { level: 9 });
        res.writeHead(200, {
          "Content-Type": "application/json",
          "Content-Encoding": "gzip",
          "Content-Length": String(bomb.length),
        });
        res.end(bomb);
        return;
      }
      default:
        break;
    }
    const from = mode.kind === "tcb-from" && path.includes("/tcb") ? mode.upstream : this.upstream;
    const up = await forward(from, path);
    const headers = { ...up.headers };
    delete headers["content-length"];
    delete headers["transfer-encoding"];
    let body = up.body;
    if (mode.kind === "corrupt-tcb-signature" && path.includes("/tcb") && up.status === 200) {
      const text = body.toString("utf8");
      const m = /"signature"\s*:\s*"([0-9a-fA-F])/.exec(text);
      if (m) {
        const at = m.index + m[0].length - 1;
        const flipped = m[1] === "0" ? "1" : "0";
        body = Buffer.from(text.slice(0, at) + flipped + text.slice(at + 1), "utf8");
      }
    }
    if (mode.kind === "trickle") {
      res.writeHead(up.status, { ...headers, "Content-Length": String(body.length) });
      res.write(body.subarray(0, Math.min(8, body.length)));
      this.hanging.add(res);
      res.on("close", () => this.hanging.delete(res));
      return;
    }
    res.writeHead(up.status, { ...headers, "Content-Length": String(body.length) });
    res.end(body);
  }
}

function forward(
  base: string,
  path: string,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const r = httpRequest(`${base}${path}`, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on("error", reject);
    });
    r.on("error", reject);
    r.end();
  });
}
