/**
 * What the server commands (serve, pcs serve, qgs serve, explorer serve) share: loading the optional packages a
 * server needs, and `--json`, where the start-up is one JSON object on the first line of stdout instead of the
 * human banner, and every later line the command prints is a JSON object too.
 */
import { Writable } from "node:stream";
import { importWith } from "../optional.js";

/** The packages every HTTP server command needs (fastify), named in the error when one is absent. */
export const HTTP_SERVER_PACKAGES = ["fastify"];

/** Import a server's module after checking its optional packages (DEPENDENCY_MISSING names the absent ones). */
export function loadServer<T>(command: string, packages: string[], load: () => Promise<T>): Promise<T> {
  return importWith(packages, `tdx-attest ${command}`, load);
}

/** Write the start-up object as one line on stdout. */
export function writeStartupLine(startup: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(startup)}\n`);
}

/** A human line on stderr, or with --json a JSON object {"notice": line} on one line of stderr. */
export function noticeWriter(json: boolean): (line: string) => void {
  return json
    ? (line) => process.stderr.write(`${JSON.stringify({ notice: line })}\n`)
    : (line) => process.stderr.write(`${line}\n`);
}

/**
 * A request log's destination that holds what the server logs while it starts (fastify logs "Server listening"
 * during listen) until the start-up line is out, so that line is the first one on stdout.
 */
export class HeldUntilStarted extends Writable {
  #held: Buffer[] | null = [];

  constructor(readonly target: NodeJS.WritableStream = process.stdout) {
    super();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (e?: Error | null) => void): void {
    if (this.#held) {
      this.#held.push(chunk);
      done();
    } else this.target.write(chunk, (e) => done(e ?? null));
  }

  /** Let the held lines and everything after them through. */
  release(): void {
    const held = this.#held ?? [];
    this.#held = null;
    for (const chunk of held) this.target.write(chunk);
  }
}

/**
 * Resolves once SIGINT or SIGTERM has arrived and `close` has finished. Call it before printing the start-up
 * line: whoever reads that line may signal at once, and a signal with no handler yet kills the process.
 */
export function untilSignal(close: () => Promise<unknown>): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      close().then(
        () => resolve(),
        () => resolve(),
      );
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}

/** host:port as a URL's authority (IPv6 in brackets). */
export function authority(host: string, port: number): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}
