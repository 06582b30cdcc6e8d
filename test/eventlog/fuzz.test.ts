/** Random mutations and truncations of real logs never throw anything but TdxError. */
import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { TdxError } from "../../src/errors.js";
import {
  describeTcgEvent,
  EVENT_LOG_QUIRK_NAMES,
  type EventLogQuirk,
  parseCcelTable,
  parseEventLog,
  parseRuntimeLog,
  replayEventLog,
  runtimeEventDigest,
  viewEventLog,
} from "../../src/eventlog/index.js";
import { concat, encodeEvent2, encodeSpecIdHeader, eventlogVectorsDir, readVector } from "./helpers.js";

type Mutation =
  | { kind: "truncate"; at: number }
  | { kind: "flip"; at: number; value: number }
  | { kind: "u32"; at: number; value: number }
  | { kind: "insert"; at: number; bytes: Uint8Array }
  | { kind: "delete"; at: number; length: number };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({
    kind: fc.constant("u32" as const),
    at: fc.nat(),
    value: fc.oneof(
      fc.constantFrom(0, 1, 2, 3, 4, 5, 48, 0x7fffffff, 0xffffffff, 0x80000000),
      fc.integer({ min: 0, max: 0xffffffff }),
    ),
  }),
  fc.record({
    kind: fc.constant("insert" as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }),
  }),
  fc.record({ kind: fc.constant("delete" as const), at: fc.nat(), length: fc.integer({ min: 1, max: 64 }) }),
);

function mutate(input: Uint8Array, mutations: Mutation[]): Uint8Array {
  let b: Uint8Array = new Uint8Array(input);
  for (const m of mutations) {
    if (b.length === 0) break;
    const at = m.at % b.length;
    if (m.kind === "truncate") b = b.slice(0, at);
    else if (m.kind === "flip") b[at] = m.value;
    else if (m.kind === "u32") {
      if (at + 4 <= b.length) new DataView(b.buffer, b.byteOffset, b.byteLength).setUint32(at, m.value, true);
    } else if (m.kind === "insert") b = concat(b.subarray(0, at), m.bytes, b.subarray(at));
    else b = concat(b.subarray(0, at), b.subarray(Math.min(b.length, at + m.length)));
  }
  return b;
}

function onlyTdxErrors(run: () => void): void {
  try {
    run();
  } catch (e) {
    if (!(e instanceof TdxError)) throw e;
    expect(typeof e.code).toBe("string");
    expect(e.code).toMatch(/^[A-Z0-9_]+$/);
  }
}

const quirksArb = fc.subarray(EVENT_LOG_QUIRK_NAMES as EventLogQuirk[]);

function syntheticLog(): Uint8Array {
  const h = (s: string) => new Uint8Array(createHash("sha384").update(s).digest());
  return concat(
    encodeSpecIdHeader([
      { id: 0x000b, size: 32 },
      { id: 0x000c, size: 48 },
    ]),
    ...Array.from({ length: 12 }, (_, i) =>
      encodeEvent2(
        (i % 4) + 1,
        i % 3 === 0 ? 0x80000001 : 0x80000007,
        [
          { alg: 0x000b, digest: h(String(i)).subarray(0, 32) },
          { alg: 0x000c, digest: h(String(i)) },
        ],
        new TextEncoder().encode(`event ${i}`),
      ),
    ),
    new Uint8Array(64).fill(0xff),
  );
}

function checkBinary(name: string, load: () => Uint8Array, runs: number): void {
  it(`${name}: mutated/truncated binary logs only ever raise TdxError`, () => {
    const base = load();
    fc.assert(
      fc.property(fc.array(mutationArb, { minLength: 1, maxLength: 4 }), quirksArb, (mutations, quirks) => {
        const bytes = mutate(base, mutations);
        onlyTdxErrors(() => {
          const log = parseEventLog(bytes, { quirks });
          if (log.format === "tcg") for (const e of log.events) describeTcgEvent(e);
          viewEventLog(log);
          replayEventLog(log, {
            quirks,
            expected: { rtmr: [0, 1, 2, 3].map(() => new Uint8Array(48)) },
            reference: [base],
          });
        });
      }),
      { numRuns: runs },
    );
  });
}

function checkText(name: string, load: () => string, parse: (t: string) => unknown, runs: number): void {
  it(`${name}: mutated JSON text only ever raises TdxError`, () => {
    const base = new TextEncoder().encode(load());
    fc.assert(
      fc.property(fc.array(mutationArb, { minLength: 1, maxLength: 3 }), (mutations) => {
        const text = new TextDecoder().decode(mutate(base, mutations));
        onlyTdxErrors(() => parse(text));
      }),
      { numRuns: runs },
    );
  });
}

describe("event-log robustness (synthetic)", () => {
  checkBinary("synthetic two-bank log", syntheticLog, 400);
  const runtimeDoc = JSON.stringify({
    format: "tdx-attest.runtime-log",
    version: 1,
    events: ["a", "b"].map((name, seq) => ({
      seq,
      rtmr: 3,
      event: name,
      digest: Buffer.from(runtimeEventDigest(name, "data")).toString("hex"),
      data: "data",
      encoding: "utf8",
      time: "2026-11-26T12:00:00.000Z",
    })),
  });
  checkText(
    "runtime log",
    () => runtimeDoc,
    (t) => replayEventLog(t),
    300,
  );
  checkText("runtime log (direct parser)", () => runtimeDoc, parseRuntimeLog, 200);
});

const dir = eventlogVectorsDir();
describe.skipIf(!dir)(
  dir ? "event-log robustness (real logs)" : "event-log robustness (real logs: vectors absent)",
  () => {
    checkBinary(
      "COS-113 CCEL log",
      () => readVector("go-eventlog-ccel/cos-113-intel-tdx-dupe-separator-unpadded.bin"),
      300,
    );
    checkBinary("td-shim CCEL log", () => readVector("trustee-eventlog/CCEL_data").subarray(0, 10240), 200);
    checkBinary("Alibaba AAEL log", () => readVector("trustee-eventlog/CCEL_AAEL_alibabacloud"), 200);
    checkBinary("OVMF direct-boot log", () => readVector("go-eventlog-ccel/CCEL_unpadded.data.bin"), 300);
    checkText(
      "dstack log",
      () => Buffer.from(readVector("dstack-verifier-fixtures/tdx-lite-getquote.json")).toString("utf8"),
      (t) => {
        const log = parseEventLog(t, { format: "dstack" });
        viewEventLog(log);
        replayEventLog(log, { reference: [t] });
      },
      200,
    );
    it("CCEL tables: mutations only ever raise TdxError", () => {
      const base = readVector("go-tdx-guest-cos113/ccel_table.dat");
      fc.assert(
        fc.property(fc.array(mutationArb, { minLength: 1, maxLength: 3 }), (mutations) => {
          onlyTdxErrors(() => parseCcelTable(mutate(base, mutations)));
        }),
        { numRuns: 300 },
      );
    });
  },
);
