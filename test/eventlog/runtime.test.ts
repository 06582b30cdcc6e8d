import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { TdxError } from "../../src/errors.js";
import { parseRuntimeLog, runtimeEventDigest, serializeRuntimeLog } from "../../src/eventlog/index.js";
// The log's file (reading, locking, appending) is the guest's edge; the format above is pure.
import { appendRuntimeEvent, DEFAULT_RUNTIME_LOG_PATH, readRuntimeLog } from "../../src/guest/index.js";

const T = new Date("2026-11-26T12:00:00.000Z");

function tmp(): string {
  return mkdtempSync(join(tmpdir(), "tdx-rtlog-"));
}

describe("runtimeEventDigest", () => {
  it("hashes domain, 0x00, length-prefixed name and data", () => {
    const name = Buffer.from("app-config");
    const data = Buffer.from("hello");
    const lens = Buffer.alloc(8);
    lens.writeUInt32LE(name.length, 0);
    lens.writeUInt32LE(data.length, 4);
    const expected = createHash("sha384")
      .update("tdx-attest.runtime-event.v1")
      .update(Buffer.of(0))
      .update(lens.subarray(0, 4))
      .update(name)
      .update(lens.subarray(4))
      .update(data)
      .digest("hex");
    expect(Buffer.from(runtimeEventDigest("app-config", "hello")).toString("hex")).toBe(expected);
    expect(runtimeEventDigest("app-config", new Uint8Array(Buffer.from("hello")))).toEqual(
      runtimeEventDigest("app-config", "hello"),
    );
  });

  it("separates name and data unambiguously", () => {
    expect(runtimeEventDigest("ab", "c")).not.toEqual(runtimeEventDigest("a", "bc"));
  });

  it("rejects bad names with a TdxError", () => {
    for (const bad of ["", " x", "a b", "x".repeat(129), "ünïcode"]) {
      expect(() => runtimeEventDigest(bad, "")).toThrow(TdxError);
    }
  });
});

describe("appendRuntimeEvent / readRuntimeLog", () => {
  it("creates the log, appends in order and reads back with verified digests", async () => {
    const dir = tmp();
    const path = join(dir, "runtime.json");
    const a = await appendRuntimeEvent(path, { rtmr: 3, event: "app-id", data: "abc" }, { time: T });
    const b = await appendRuntimeEvent(
      path,
      { rtmr: 3, event: "blob", data: Uint8Array.of(0, 1, 255), description: "three bytes" },
      { time: T },
    );
    const c = await appendRuntimeEvent(
      path,
      { rtmr: 3, event: "secret", data: "do-not-store", recordData: false, description: "redacted" },
      { time: T },
    );
    expect([a.seq, b.seq, c.seq]).toEqual([0, 1, 2]);
    expect(b.data).toBe("0001ff");
    expect(b.encoding).toBe("hex");
    expect(c.data).toBeUndefined();
    expect(c.digest).toBe(Buffer.from(runtimeEventDigest("secret", "do-not-store")).toString("hex"));
    const log = await readRuntimeLog(path);
    expect(log.events).toEqual([a, b, c]);
    // No temp or lock files left behind.
    expect(readdirSync(dir)).toEqual(["runtime.json"]);
  });

  it("calls extend with the recorded digest, and logs nothing when extend fails", async () => {
    const path = join(tmp(), "rt.json");
    const seen: string[] = [];
    const e = await appendRuntimeEvent(
      path,
      { rtmr: 3, event: "x", data: "1" },
      { time: T, extend: (r, d) => void seen.push(`${r}:${Buffer.from(d).toString("hex")}`) },
    );
    expect(seen).toEqual([`3:${e.digest}`]);
    await expect(
      appendRuntimeEvent(
        path,
        { rtmr: 3, event: "y", data: "2" },
        {
          extend: () => {
            throw new Error("device busy");
          },
        },
      ),
    ).rejects.toMatchObject({ code: "RUNTIME_EVENT_EXTEND_FAILED" });
    expect((await readRuntimeLog(path)).events.map((x) => x.event)).toEqual(["x"]);
  });

  it("serializes concurrent appends without losing entries", async () => {
    const path = join(tmp(), "rt.json");
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        appendRuntimeEvent(
          path,
          { rtmr: 3, event: `e${i}`, data: String(i) },
          { extend: () => void order.push(i) },
        ),
      ),
    );
    const log = await readRuntimeLog(path);
    expect(log.events).toHaveLength(25);
    // Log order equals extend order.
    expect(log.events.map((e) => Number(e.event.slice(1)))).toEqual(order);
  });

  it("removes a stale lock left by a dead process", async () => {
    const path = join(tmp(), "rt.json");
    writeFileSync(`${path}.lock`, "999999999 deadbeef\n");
    await appendRuntimeEvent(path, { rtmr: 3, event: "x", data: "" }, { time: T, lockTimeoutMs: 2000 });
    expect((await readRuntimeLog(path)).events).toHaveLength(1);
  });

  it("times out on a lock held by a live process", async () => {
    const path = join(tmp(), "rt.json");
    writeFileSync(`${path}.lock`, `${process.pid} held\n`);
    await expect(
      appendRuntimeEvent(path, { rtmr: 3, event: "x", data: "" }, { lockTimeoutMs: 30 }),
    ).rejects.toMatchObject({ code: "RUNTIME_LOG_LOCK_TIMEOUT" });
  });

  it("refuses to append to a corrupted log (never clobbers it)", async () => {
    const path = join(tmp(), "rt.json");
    writeFileSync(path, "{ not json");
    await expect(appendRuntimeEvent(path, { rtmr: 3, event: "x", data: "" })).rejects.toMatchObject({
      code: "RUNTIME_LOG_BAD_JSON",
    });
    expect(readFileSync(path, "utf8")).toBe("{ not json");
  });

  it("rejects invalid input before touching the file", async () => {
    const path = join(tmp(), "rt.json");
    await expect(appendRuntimeEvent(path, { rtmr: 4, event: "x", data: "" })).rejects.toMatchObject({
      code: "RUNTIME_EVENT_BAD_RTMR",
    });
    await expect(appendRuntimeEvent(path, { rtmr: 3, event: "x", data: "\uD800" })).rejects.toMatchObject({
      code: "RUNTIME_EVENT_BAD_DATA",
    });
    await expect(readRuntimeLog(path)).resolves.toMatchObject({ events: [] });
  });
});

describe("parseRuntimeLog", () => {
  const good = () => ({
    format: "tdx-attest.runtime-log",
    version: 1,
    events: [
      {
        seq: 0,
        rtmr: 3,
        event: "a",
        digest: Buffer.from(runtimeEventDigest("a", "x")).toString("hex"),
        data: "x",
        encoding: "utf8",
        time: T.toISOString(),
      },
    ],
  });

  it("round-trips", () => {
    const log = parseRuntimeLog(JSON.stringify(good()));
    expect(parseRuntimeLog(serializeRuntimeLog(log))).toEqual(log);
  });

  it("detects data altered after measurement", () => {
    const doc = good();
    doc.events[0]!.data = "y";
    expect(() => parseRuntimeLog(JSON.stringify(doc))).toThrow(
      expect.objectContaining({ code: "RUNTIME_LOG_DIGEST_MISMATCH", field: "events[0].digest" }),
    );
  });

  it("rejects wrong format, version, seq and digest shape", () => {
    const cases: [(d: ReturnType<typeof good>) => void, string][] = [
      [
        (d) => {
          d.format = "x";
        },
        "RUNTIME_LOG_BAD_FORMAT",
      ],
      [
        (d) => {
          d.version = 2;
        },
        "RUNTIME_LOG_UNSUPPORTED_VERSION",
      ],
      [
        (d) => {
          d.events[0]!.seq = 1;
        },
        "RUNTIME_LOG_BAD_ENTRY",
      ],
      [
        (d) => {
          d.events[0]!.digest = "00";
        },
        "RUNTIME_LOG_BAD_ENTRY",
      ],
      [
        (d) => {
          d.events[0]!.encoding = "base64";
        },
        "RUNTIME_LOG_BAD_ENTRY",
      ],
    ];
    for (const [mutate, code] of cases) {
      const d = good();
      mutate(d);
      expect(() => parseRuntimeLog(JSON.stringify(d))).toThrow(expect.objectContaining({ code }));
    }
    expect(() => parseRuntimeLog("[]")).toThrow(expect.objectContaining({ code: "RUNTIME_LOG_BAD_FORMAT" }));
  });
});

describe("runtime log file handling", () => {
  it("creates missing parent directories", async () => {
    const path = join(tmp(), "a", "b", "rt.json");
    await appendRuntimeEvent(path, { rtmr: 3, event: "x", data: "" }, { time: T });
    expect((await readRuntimeLog(path)).events).toHaveLength(1);
  });

  it("removes an incomplete lock (writer died before writing it) once it is old", async () => {
    const path = join(tmp(), "rt.json");
    writeFileSync(`${path}.lock`, "");
    const old = new Date(Date.now() - 60_000);
    utimesSync(`${path}.lock`, old, old);
    await appendRuntimeEvent(path, { rtmr: 3, event: "x", data: "" }, { time: T, lockTimeoutMs: 2000 });
    expect((await readRuntimeLog(path)).events).toHaveLength(1);
  });

  it("the default path lives on /run (reset with the RTMRs at reboot)", () => {
    expect(DEFAULT_RUNTIME_LOG_PATH.startsWith("/run/")).toBe(true);
  });
});
