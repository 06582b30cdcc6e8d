import type { Quote } from "../../src/abi/types.js";
import type { QuoteSource } from "../../src/kbs/client.js";
import type { EvidenceVerdict, EvidenceVerifier } from "../../src/kbs/evidence.js";

/**
 * A stand-in for the DCAP verifier in server tests: the "quote" is JSON naming what the verifier
 * should conclude. The real verifier and the simulated platform are exercised in test/e2e.
 */
export interface FakeQuote {
  reportData: string;
  debug?: boolean;
  genuine?: boolean;
  tcbStatus?: string;
  mrTd?: string;
}

export function fakeQuoteBytes(q: FakeQuote): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(q));
}

const zeros = (n: number) => new Uint8Array(n);

export class FakeVerifier implements EvidenceVerifier {
  calls = 0;
  async verify(input: { quote: Uint8Array; now: Date }): Promise<EvidenceVerdict> {
    this.calls++;
    const q = JSON.parse(new TextDecoder().decode(input.quote)) as FakeQuote;
    const attrs = zeros(8);
    if (q.debug) attrs[0] = 1;
    const report = {
      teeTcbSvn: zeros(16),
      mrSeam: zeros(48),
      mrSignerSeam: zeros(48),
      seamAttributes: zeros(8),
      tdAttributes: attrs,
      xfam: Uint8Array.from([0xe7, 0x18, 0x06, 0, 0, 0, 0, 0]),
      mrTd: q.mrTd ? Uint8Array.from(Buffer.from(q.mrTd, "hex")) : new Uint8Array(48).fill(0x11),
      mrConfigId: zeros(48),
      mrOwner: zeros(48),
      mrOwnerConfig: zeros(48),
      rtmr: [zeros(48), zeros(48), zeros(48), zeros(48)],
      reportData: Uint8Array.from(Buffer.from(q.reportData, "hex")),
    };
    const quote = {
      bytes: input.quote,
      header: {
        version: 4,
        attestationKeyType: 2,
        teeType: 0x81,
        qeSvn: 0,
        pceSvn: 0,
        qeVendorId: zeros(16),
        userData: zeros(20),
      },
      body: { type: 2, kind: "td10", report },
    } as unknown as Quote;
    const genuine = q.genuine ?? true;
    return {
      ok: genuine,
      problems: genuine
        ? []
        : [{ code: "QUOTE_SIGNATURE_INVALID", message: "the attestation key's signature does not verify" }],
      quote,
      tcbStatus: q.tcbStatus ?? "UpToDate",
      advisoryIds: [],
      tcbDate: "2025-01-01T00:00:00Z",
      collateralExpired: false,
      collateralExpiresAt: "2027-01-01T00:00:00.000Z",
    };
  }
}

/** A guest that quotes whatever REPORTDATA it is given, with extra properties to inject faults. */
export function fakeQuoteSource(
  extra: Omit<FakeQuote, "reportData"> = {},
  tamper?: (rd: Uint8Array) => Uint8Array,
): QuoteSource {
  return {
    async getQuote(reportData: Uint8Array) {
      const rd = tamper ? tamper(reportData) : reportData;
      return { quote: fakeQuoteBytes({ ...extra, reportData: Buffer.from(rd).toString("hex") }) };
    },
  };
}
