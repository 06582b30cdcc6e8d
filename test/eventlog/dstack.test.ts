import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  dstackRuntimeDigestInputV2,
  dstackRuntimeDigestInputV2NameType,
  dstackRuntimeDigestV1,
  dstackRuntimeDigestV2,
  parseDstackLog,
  replayEventLog,
} from "../../src/eventlog/index.js";

const hexOf = (b: Uint8Array) => Buffer.from(b).toString("hex");
const h = (b: Buffer | string) => createHash("sha384").update(b).digest("hex");

describe("dstack runtime-event digests", () => {
  it("V1 = SHA-384(u32le(0x08000001) || ':' || name || ':' || payload)", () => {
    const payload = Uint8Array.of(0xde, 0xad, 0xbe, 0xef);
    const expected = h(
      Buffer.concat([Buffer.from([1, 0, 0, 8]), Buffer.from(":app-id:"), Buffer.from(payload)]),
    );
    expect(hexOf(dstackRuntimeDigestV1("app-id", payload))).toBe(expected);
  });

  it("V2 hashes the JCS text dstack's own tests pin down", () => {
    // Strings from dstack cc-eventlog runtime_events.rs unit tests.
    expect(dstackRuntimeDigestInputV2("compose-hash", Uint8Array.of(0xab, 0xcd))).toBe(
      '{"event":"compose-hash","event_type":134217729,"payload":"abcd","version":2}',
    );
    expect(dstackRuntimeDigestInputV2('event"with\\special\nchars', Uint8Array.of(0xff))).toBe(
      '{"event":"event\\"with\\\\special\\nchars","event_type":134217729,"payload":"ff","version":2}',
    );
    expect(dstackRuntimeDigestInputV2("\b\f\n\r\t\u0001", new Uint8Array())).toContain(
      '"event":"\\b\\f\\n\\r\\t\\u0001"',
    );
    expect(dstackRuntimeDigestInputV2("测试-emoji-🦀", new Uint8Array())).toContain("测试-emoji-🦀");
    expect(hexOf(dstackRuntimeDigestV2("compose-hash", Uint8Array.of(0xab, 0xcd)))).toBe(
      h('{"event":"compose-hash","event_type":134217729,"payload":"abcd","version":2}'),
    );
  });

  it("the other V2 form: JCS {name, payload, type} without version", () => {
    const text = dstackRuntimeDigestInputV2NameType("compose-hash", Uint8Array.of(0xab, 0xcd));
    expect(text).toBe('{"name":"compose-hash","payload":"abcd","type":134217729}');
  });

  it("accepts given V1 or V2 digests, recomputes stripped ones by version, refuses others", () => {
    const ev = (over: Record<string, unknown>) => ({
      imr: 3,
      event_type: 0x08000001,
      event: "compose-hash",
      event_payload: "abcd",
      digest: "",
      ...over,
    });
    const v1 = hexOf(dstackRuntimeDigestV1("compose-hash", Uint8Array.of(0xab, 0xcd)));
    const v2 = hexOf(dstackRuntimeDigestV2("compose-hash", Uint8Array.of(0xab, 0xcd)));
    const nameTypeText = dstackRuntimeDigestInputV2NameType("compose-hash", Uint8Array.of(0xab, 0xcd));
    const nameType = h(nameTypeText);
    const log = parseDstackLog(
      JSON.stringify([
        ev({ digest: v1 }),
        ev({ digest: v2 }),
        ev({ digest: nameType }),
        ev({}),
        ev({ version: 2 }),
        ev({ version: 2, hash_input: Buffer.from(nameTypeText).toString("hex") }),
      ]),
    );
    expect(log.events.map((e) => `${e.digestSource}:${e.digestRule}`)).toEqual([
      "given:v1",
      "given:v2",
      "given:v2-name-type",
      "recomputed:v1",
      "recomputed:v2",
      "recomputed:v2-name-type",
    ]);
    expect(hexOf(log.events[5]!.digest)).toBe(nameType);
    expect(() => parseDstackLog(JSON.stringify([ev({ digest: "00".repeat(48) })]))).toThrow(
      expect.objectContaining({ code: "DSTACK_LOG_DIGEST_MISMATCH", field: "event_log[0].digest" }),
    );
    // Boot events need their digest; imr must be 0..3.
    expect(() => parseDstackLog(JSON.stringify([{ imr: 0, event_type: 4, digest: "" }]))).toThrow(
      expect.objectContaining({ code: "DSTACK_LOG_BAD_EVENT" }),
    );
    expect(() => parseDstackLog(JSON.stringify([ev({ imr: 4 })]))).toThrow(
      expect.objectContaining({ code: "DSTACK_LOG_BAD_EVENT", field: "event_log[0].imr" }),
    );
  });

  it("replays imr 0..3 into RTMR0..3 (0-based, unlike TCG MR indexes)", () => {
    const d = "11".repeat(48);
    const r = replayEventLog(
      JSON.stringify([{ imr: 2, event_type: 0x0d, digest: d, event: "", event_payload: "" }]),
    );
    const expected = h(Buffer.concat([Buffer.alloc(48), Buffer.from(d, "hex")]));
    expect(r.registers.map((x) => x.events)).toEqual([0, 0, 1, 0]);
    expect(r.registers[2]!.replayed).toBe(expected);
  });
});
