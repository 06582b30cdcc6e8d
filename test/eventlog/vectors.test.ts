/**
 * Every public event-log vector in ../shared/vectors/eventlog (see its MANIFEST.md): logs shipped with a quote
 * must replay to that quote's RTMRs; the others to the register values the MANIFEST records (asserted upstream
 * by go-eventlog / trustee, or cross-checked there by an independent replay).
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { parseQuote } from "../../src/abi/index.js";
import {
  describeTcgEvent,
  digestBinding,
  digestIsHashOfEvent,
  parseCcelTable,
  parseDstackLog,
  parseTcgLog,
  replayEventLog,
  replayEventLogs,
  sha384DigestOf,
} from "../../src/eventlog/index.js";
import { EVENTLOG_SKIP_REASON, eventlogVectorsDir, readVector, readVectorText } from "./helpers.js";

const present = eventlogVectorsDir() !== null;
const Z = "0".repeat(96);

function sha256(b: Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}

describe.skipIf(!present)(
  present ? "event-log vectors with a quote" : `event-log vectors (${EVENTLOG_SKIP_REASON})`,
  () => {
    it("go-tdx-guest COS-113: CCEL table + log replay to the quote's RTMR0-3", () => {
      const table = readVector("go-tdx-guest-cos113/ccel_table.dat");
      const log = readVector("go-tdx-guest-cos113/ccel_data.dat");
      const quoteBytes = readVector("go-tdx-guest-cos113/cos-113-tdx-quote.dat");
      expect(sha256(log)).toBe("090dc18758380a5cc03014bf2fe354788a4f4222671e1e38f85b772d2fd344b5");
      const quote = parseQuote(quoteBytes);
      const r = replayEventLog(log, { expected: quote, ccelTable: table });
      expect(r.ok).toBe(true);
      expect(r.registers.map((x) => x.match)).toEqual([true, true, true, true]);
      expect(r.registers.map((x) => x.replayed)).toEqual([
        "3fa2f61f395b7f5feefb4ec2df61297f109ad8abcd6410c1b7df60f21f37b19297fc35e544039c7e1edece752afd17f6",
        "f62dbc072bd5d3f3438b7b35c39a727f5aea2ffc2473f43723953f530daf62504f0a7944aa62c41a86e8a878c2b122c1",
        "4969684dc87381fc3b3134176c8d8806eaf0a901859f5f70cfae8d17714b46c10a8de219048c9fc09f11f381a6fbe7c1",
        Z,
      ]);
      expect(r.mrtd?.expected).toBe(
        "dae67181d3d65e073ad8f95b7907d5e927bfe9761c9ff3e9b89734a45d8954dba41394c7717cb2735396c1d04231f94a",
      );
      expect(r.mrtd?.replayed).toBeNull();
      expect(r.logs[0]).toMatchObject({
        format: "tcg",
        events: 44,
        extended: 43,
        end: "padding",
        endOffset: 18101,
      });
      expect(r.ccel).toMatchObject({
        checksum: 0x69,
        ccType: 2,
        ccSubtype: 0,
        oemId: "INTEL ",
        logAreaMinimumLength: "0x40000",
        logAreaStartAddress: "0xbedbf000",
      });
      expect(r.firstDivergence).toBeNull();
    });

    for (const [file, events, rtmr3Events] of [
      ["quote-report.json", 28, 8],
      ["tdx-lite-getquote.json", 29, 9],
    ] as const) {
      it(`dstack ${file}: JSON log replays to its embedded quote's RTMR0-3`, () => {
        const text = readVectorText(`dstack-verifier-fixtures/${file}`);
        const log = parseDstackLog(text);
        expect(log.events).toHaveLength(events);
        expect(log.quote).toBeDefined();
        const r = replayEventLog(log, { expected: parseQuote(log.quote!) });
        expect(r.ok).toBe(true);
        expect(r.registers[3]!.events).toBe(rtmr3Events);
        // Also through the raw-text entry point (format detection).
        expect(replayEventLog(text, { expected: parseQuote(log.quote!) }).ok).toBe(true);
      });
    }

    it("dstack: given runtime digests follow V1; stripped ones are recomputed", () => {
      const full = parseDstackLog(readVectorText("dstack-verifier-fixtures/quote-report.json"));
      const rt = full.events.filter((e) => e.eventType === 0x08000001);
      expect(rt.every((e) => e.digestSource === "given" && e.digestRule === "v1")).toBe(true);
      const lite = parseDstackLog(readVectorText("dstack-verifier-fixtures/tdx-lite-getquote.json"));
      expect(lite.events.filter((e) => e.digestSource === "recomputed")).toHaveLength(9);
    });

    it("names the first diverging event when a register does not match", () => {
      const text = readVectorText("dstack-verifier-fixtures/quote-report.json");
      const doc = JSON.parse(text) as { quote: string; event_log: string };
      const events = JSON.parse(doc.event_log) as Record<string, unknown>[];
      // Drop the last two runtime events: RTMR3 now misses events => no prefix reproduces the quote.
      const cut = { ...doc, event_log: JSON.stringify(events.slice(0, -2)) };
      const quote = parseQuote(new Uint8Array(Buffer.from(doc.quote, "hex")));
      const r = replayEventLog(JSON.stringify(cut), { expected: quote });
      expect(r.ok).toBe(false);
      expect(r.registers.map((x) => x.match)).toEqual([true, true, true, false]);
      expect(r.firstDivergence).toMatchObject({
        register: "RTMR3",
        reason: "no-prefix-matches",
        event: { eventIndex: 20, eventName: "system-preparing", eventType: "DSTACK_RUNTIME_EVENT" },
      });
      // An extra event appended: the quote's value is a prefix, and the extra event is named.
      const extra = [
        ...events,
        { imr: 3, event_type: 0x08000001, digest: "", event: "late", event_payload: "" },
      ];
      const r2 = replayEventLog(JSON.stringify({ ...doc, event_log: JSON.stringify(extra) }), {
        expected: quote,
      });
      expect(r2.firstDivergence).toMatchObject({
        register: "RTMR3",
        reason: "extra-events",
        matchedEvents: 8,
        event: { eventIndex: 28, eventName: "late" },
      });
      expect(r2.firstDivergence!.expected).toBe(r.registers[3]!.expected);
      // Only the boot part: RTMR3 has events in the quote but none in the log.
      const boot = replayEventLog(
        JSON.stringify({ ...doc, event_log: JSON.stringify(events.slice(0, 20)) }),
        {
          expected: quote,
        },
      );
      expect(boot.firstDivergence).toMatchObject({
        register: "RTMR3",
        reason: "missing-events",
        event: null,
      });
    });

    it("chains a firmware log and a runtime log into the same registers", () => {
      // The dstack log split in two (boot, runtime) and replayed in order equals the whole.
      const text = readVectorText("dstack-verifier-fixtures/quote-report.json");
      const doc = JSON.parse(text) as { quote: string; event_log: string };
      const events = JSON.parse(doc.event_log) as unknown[];
      const quote = parseQuote(new Uint8Array(Buffer.from(doc.quote, "hex")));
      const r = replayEventLogs([JSON.stringify(events.slice(0, 20)), JSON.stringify(events.slice(20))], {
        expected: quote,
      });
      expect(r.ok).toBe(true);
      expect(r.logs.map((l) => l.events)).toEqual([20, 8]);
    });
  },
);

// Expected registers from MANIFEST.md (upstream-asserted unless marked replayed there).
const EXPECTED: Record<string, [string, string, string, string]> = {
  "go-eventlog-ccel/cos-113-intel-tdx-dupe-separator-unpadded.bin": [
    "a4de2df23e9611299123ba4359c42a5e578b0f8488bf1bba8ef5606d9ea5d81c97c064b482a5eac537d166bd0f0f752d",
    "0ee9366c928a77092f55e9e114c7394181fd264699155f0df77d23577618d5f650568a17d379355a07bd846e552f4e20",
    "4969684dc87381fc3b3134176c8d8806eaf0a901859f5f70cfae8d17714b46c10a8de219048c9fc09f11f381a6fbe7c1",
    Z,
  ],
  "go-eventlog-ccel/cos-113-intel-tdx-dupe-separator.bin": [
    "a4de2df23e9611299123ba4359c42a5e578b0f8488bf1bba8ef5606d9ea5d81c97c064b482a5eac537d166bd0f0f752d",
    "0ee9366c928a77092f55e9e114c7394181fd264699155f0df77d23577618d5f650568a17d379355a07bd846e552f4e20",
    "4969684dc87381fc3b3134176c8d8806eaf0a901859f5f70cfae8d17714b46c10a8de219048c9fc09f11f381a6fbe7c1",
    Z,
  ],
  "go-eventlog-ccel/CCEL_unpadded.data.bin": [
    "8083cd6898cc52a90231cdf9c0532bf9513c40465c6f71e56cbe32ee2c11a9dfc030297ca3ca0f62477d6d1f610d3fdb",
    "6484f0d72c03521c0434553be34e8db8228b729e799666d2b7754085c77aa9981f5a440df3047194b24f212ff1160c1e",
    "c3e7ed9d7e909b29732f676d01dc63de869b049362b522a315cb042689670be07344c347cf85d985c7b928d4934e41e1",
    Z,
  ],
  "trustee-eventlog/CCEL_data": [
    "2dc712306a963eadb894ad47dbaa17df44814151555aee11cbb843becca88950ffd079664902e6f22c66f7c8213543f4",
    "0fa3be56af61208bbd179dc7b124988eb929319154663c539d6f46445ecac2fec287075047ff7bd1922829fec28cd3cf",
    Z,
    Z,
  ],
  "trustee-eventlog/CCEL_data_ovmf": [
    "8566f998798db09443b244c62de9a3041fb02e2e6936c4396d784bba2e90177329ec5aba3bb484404f2ab9cc90abe193",
    "775b9f6bfe99f8a31396f0d0218e67ffa796d3b96ccf961cbb0deba48c79c00f082cda1a5567c1c16305f1fc210c13c6",
    "94eaf7a7bf398ed8d888c91057ae0261802e4f3df084213a76ca7f0b5055ac9d2241de43cd58d9e8b49c503bbf25f34a",
    Z,
  ],
  "trustee-eventlog/CCEL_data_grub": [
    "cec0a104f691f60da2387fea3c2de00c4ac035e2bb479ff02edcce69039d9e9907f0b3e55031da3dc7038f423adebd79",
    "6c289e0c62182d41ebe97bdbc9872d10998a08eaa86adcdc684001a363207ee72942c7522cdf00a4bbc3d784bed7b670",
    "08919d017ba0e52cd6d966351c7de16fe76c1d3d3d3da4554239e4c7d16cb8b82a94e7eaea3a0e6e18eb690b999fd31e",
    Z,
  ],
  "trustee-eventlog/CCEL_data_gcp": [
    "3300980705adf09d28b707b79699d9874892164280832be2c386a715b6e204e0897fb564a064f810659207ba862b304f",
    "204d49f78d29918fe7b2f694e76653861a0c2a018987d2c3a54266eff737232524cf0af68c4d180e2f8c2c0937f21967",
    Z,
    Z,
  ],
  "trustee-eventlog/CCEL_data_grub_gke": [
    "bc9945139042cf2cc75caf920aa57f14884ecfd7e893bccc51250c8ce90eb53ce72741e6adaa18183eb1331a87d4544a",
    "c17cb288a4dee302bb9ed8d27257a168f3264ad68cab53757f37eeaa7039657fa887cad65cf910e0fdc435ff110f8a7b",
    "334aeba2c985f8886cea97d1ecffbd512769d528b9a94009583db667ad7d2faa7d37fa145d75b192ceee2d2f10b2eb6d",
    Z,
  ],
  "trustee-eventlog/CCEL_AAEL_alibabacloud": [
    "b796e1c11396c198ae88794def4cb8e24fa9b35468287c298087f00d4de7433e4e31a297a4e5a03d4300fa6f3a96d47c",
    "3b0b906140fcea689c8774ac1eafcf0fef8e22ba81a047fd750ebd7df3235c2704df6106a758e31e5645e9838ff37406",
    "35f2801338c1b5fce96518f058c37e0fe9ed247a12dcd5f50d9c18fe4b6c71311bb63fca2640c7915817b6aa412a8480",
    "5e4ecd49d3c7983d6f9ca36755b5cee0b423d7fa8c5a88aeb0681bd4698772bc37b4463dc5f722efe352a66417257dad",
  ],
};

describe.skipIf(!present)(
  present ? "event-log vectors without a quote" : `event-log vectors (${EVENTLOG_SKIP_REASON})`,
  () => {
    for (const [file, regs] of Object.entries(EXPECTED)) {
      it(`${file} replays to the MANIFEST's registers`, () => {
        const r = replayEventLog(readVector(file), {
          expected: { rtmr: regs.map((h) => Buffer.from(h, "hex")) },
        });
        expect(r.registers.map((x) => x.replayed)).toEqual(regs);
        expect(r.ok).toBe(true);
      });
    }

    it("a reference log names the exact first differing event per register", () => {
      const good = readVector("go-tdx-guest-cos113/ccel_data.dat");
      const other = readVector("go-eventlog-ccel/cos-113-intel-tdx-dupe-separator.bin");
      const same = replayEventLog(good, { reference: [good] }).reference!;
      expect(same.same).toBe(true);
      expect(same.firstDifference).toBeNull();
      const r = replayEventLog(other, { reference: [good] }).reference!;
      expect(r.same).toBe(false);
      expect(r.registers.map((x) => x.same)).toEqual([false, false, true, true]);
      // RTMR0: another firmware volume (event 2); RTMR1: the separator was logged in MR1 instead.
      expect(r.registers[0]!.difference).toMatchObject({
        position: 1,
        actual: { eventIndex: 2, eventType: "EV_EFI_PLATFORM_FIRMWARE_BLOB2" },
        reference: { eventIndex: 2 },
      });
      expect(r.registers[1]!.difference).toMatchObject({
        position: 1,
        actual: { eventIndex: 17, eventType: "EV_EFI_GPT_EVENT" },
        reference: { eventIndex: 16, eventType: "EV_SEPARATOR" },
      });
      expect(r.firstDifference!.register).toBe("RTMR0");
      // A log that stops early: the reference's next event is named, the log's is null.
      const cut = good.subarray(0, parseTcgLog(good).events[30]!.offset);
      const short = replayEventLog(cut, { reference: [good] }).reference!;
      expect(short.firstDifference).toMatchObject({ actual: null, reference: { eventIndex: 30 } });
    });

    it("GKE log: the SP800-155 EV_NO_ACTION records at MR 0 are shown but not extended", () => {
      const log = parseTcgLog(readVector("trustee-eventlog/CCEL_data_grub_gke"));
      const noAction = log.events.filter((e) => e.type === 3);
      expect(noAction.length).toBe(3);
      expect(noAction.slice(1).map((e) => describeTcgEvent(e).signature)).toEqual([
        "SP800-155 Event3",
        "SP800-155 Event3",
      ]);
      expect(replayEventLog(log).logs[0]).toMatchObject({ events: 36, extended: 33 });
    });

    it("digestBinding says what each digest covers (COS-113 grub commands, BootOrder/Boot####, AAEL tags)", () => {
      const tally = (file: string) => {
        const counts: Record<string, number> = {};
        for (const e of parseTcgLog(readVector(file)).events.slice(1)) {
          const k = `${e.typeName}:${digestBinding(e)}`;
          counts[k] = (counts[k] ?? 0) + 1;
        }
        return counts;
      };
      expect(tally("go-tdx-guest-cos113/ccel_data.dat")).toEqual({
        "EV_EFI_HANDOFF_TABLES2:other": 1,
        "EV_EFI_PLATFORM_FIRMWARE_BLOB2:other": 1,
        "EV_EFI_VARIABLE_DRIVER_CONFIG:event-data": 5,
        "EV_SEPARATOR:event-data": 2,
        "EV_PLATFORM_CONFIG_FLAGS:other": 3,
        "EV_EFI_VARIABLE_BOOT:variable-data": 3,
        "EV_EFI_ACTION:event-data": 3,
        "EV_EFI_GPT_EVENT:event-data": 1,
        "EV_EFI_BOOT_SERVICES_APPLICATION:other": 2,
        "EV_IPL:other": 5,
        "EV_IPL:command-text": 15,
        "EV_EFI_VARIABLE_AUTHORITY:event-data": 2,
      });
      expect(tally("trustee-eventlog/CCEL_AAEL_alibabacloud")["EV_EVENT_TAG:event-data"]).toBe(2);
    });

    it("td-shim log: header at MR index 0, errata 105, vendor td-shim", () => {
      const log = parseTcgLog(readVector("trustee-eventlog/CCEL_data"));
      expect(log.events[0]!.mrIndex).toBe(0);
      expect(log.specId).toMatchObject({ specErrata: 105, uintnSize: 2 });
      expect(Buffer.from(log.specId!.vendorInfo).toString("latin1").replace(/\0+$/, "")).toBe("td-shim");
      expect(log.end).toBe("padding");
    });

    it("go-eventlog CCEL.bin table parses (checksum, LAML, LASA) and fits its log", () => {
      const table = parseCcelTable(readVector("go-eventlog-ccel/CCEL.bin"));
      expect(table).toMatchObject({
        signature: "CCEL",
        checksum: 0x84,
        ccType: 2,
        ccSubtype: 0,
        logAreaMinimumLength: 0x10000n,
        logAreaStartAddress: 0x7d649000n,
      });
      const r = replayEventLog(readVector("go-eventlog-ccel/CCEL_unpadded.data.bin"), {
        ccelTable: readVector("go-eventlog-ccel/CCEL.bin"),
      });
      expect(r.warnings).toEqual([]);
      // The COS-113 events (18101 bytes) fit this table's 64 KiB LAML, but its 256 KiB padded area is longer
      // than LAML, which is reported as a warning.
      const r2 = replayEventLog(readVector("go-eventlog-ccel/cos-113-intel-tdx-dupe-separator.bin"), {
        ccelTable: readVector("go-eventlog-ccel/CCEL.bin"),
      });
      expect(r2.warnings.join()).toMatch(/longer than the table's log area minimum length/);
    });

    // trustee's golden parser output: the same events, types, digests and decoded names.
    for (const base of [
      "CCEL_data",
      "CCEL_data_ovmf",
      "CCEL_data_grub",
      "CCEL_data_grub_gke",
      "CCEL_AAEL_alibabacloud",
    ]) {
      it(`${base}: events agree with trustee's ${base}_out.json`, () => {
        const golden = JSON.parse(readVectorText(`trustee-eventlog/${base}_out.json`)) as {
          uefi_event_logs: {
            index: number;
            type_name: string;
            digests: { alg: string; digest: string }[];
            details: Record<string, unknown>;
            digest_matches_event: boolean;
          }[];
        };
        const ours = parseTcgLog(readVector(`trustee-eventlog/${base}`)).events.slice(1);
        expect(ours.length).toBe(golden.uefi_event_logs.length);
        golden.uefi_event_logs.forEach((g, i) => {
          const e = ours[i]!;
          expect(e.mrIndex, `event ${i + 1}`).toBe(g.index);
          expect(e.typeName, `event ${i + 1}`).toBe(g.type_name);
          expect(Buffer.from(sha384DigestOf(e)!).toString("hex")).toBe(g.digests[0]!.digest);
          expect(digestIsHashOfEvent(e), `event ${i + 1} digest_matches_event`).toBe(g.digest_matches_event);
          const d = describeTcgEvent(e);
          if (typeof g.details.unicode_name === "string") {
            expect(e.type === 6 ? d.taggedEventTag : d.variableName).toBe(g.details.unicode_name);
          }
          if (typeof g.details.string === "string" && g.details.string !== "") {
            // trustee drops the leading "." of GKE's UTF-16 UKI section names (".linux" -> "linux").
            const text = e.type === 0x0d ? String(d.string).replace(/^\./, "") : d.string;
            expect(text, `event ${i + 1}`).toBe(g.details.string);
          }
        });
      });
    }
  },
);
