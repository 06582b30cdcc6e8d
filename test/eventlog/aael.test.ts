import { describe, expect, it } from "vitest";
import { extendRegister, parseEventLog, replayEventLog } from "../../src/eventlog/index.js";
import { aaelLog, aaHeader } from "./aael.js";

const TEXTS = [
  "INIT/sha384 000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
  'github.com/confidential-containers PullImage {"image":"docker.io/library/busybox:latest","digest":"sha256:00"}',
];

describe("the attestation agent's own event log (no firmware CCEL)", () => {
  it.each([
    ["69-byte header (SHA-384, SM3)", aaHeader()],
    [
      "73-byte header (SHA-256, SHA-384, SM3)",
      aaHeader([
        [0x0b, 32],
        [0x0c, 48],
        [0x12, 32],
      ]),
    ],
  ])("parses the %s and replays the AAEL events into RTMR3", (_name, header) => {
    expect(header.length).toBe(_name.startsWith("69") ? 69 : 73);
    const { log, digests } = aaelLog(TEXTS, header);
    const parsed = parseEventLog(log);
    expect(parsed.format).toBe("tcg");
    if (parsed.format !== "tcg") return;
    expect(parsed.header).toBe("attestation-agent");
    expect(parsed.events.map((e) => e.typeName)).toEqual(["EV_NO_ACTION", "EV_EVENT_TAG", "EV_EVENT_TAG"]);
    expect(parsed.end).toBe("padding");
    const rtmr3 = digests.reduce<Uint8Array>((r, d) => extendRegister(r, d), new Uint8Array(48));
    const zero = new Uint8Array(48);
    const report = replayEventLog(log, { expected: { rtmr: [zero, zero, zero, rtmr3] } });
    expect(report.ok).toBe(true);
    expect(report.registers[3]!.events).toBe(2);
  });

  it("still refuses a header that is neither a Spec ID event nor the agent's stand-in", () => {
    const { log } = aaelLog(TEXTS);
    const bad = Buffer.from(log);
    bad[40] = 1; // inside the stand-in's zero signature
    expect(() => parseEventLog(bad)).toThrow(/Spec ID/);
  });
});
