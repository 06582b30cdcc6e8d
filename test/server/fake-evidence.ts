import { createHash } from "node:crypto";
import type { Quote, TdReportBody } from "../../src/abi/types.js";
import type {
  AttestedTdxEvidence,
  EvidenceVerifier,
  TdxEvidence,
  VerificationResult,
} from "../../src/attest/index.js";
import type { QuoteSource } from "../../src/kbs/client.js";

/**
 * A stand-in for the DCAP pipeline in server tests: the "quote" is JSON naming what the verifier
 * should conclude, and the stand-in answers with a typed result as the real pipeline would. The real
 * verifier and the simulated platform are exercised in test/e2e.
 */
export interface FakeQuote {
  reportData: string;
  debug?: boolean;
  genuine?: boolean;
  tcbStatus?: string;
  mrTd?: string;
  mrConfigId?: string;
}

export function fakeQuoteBytes(q: FakeQuote): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(q));
}

const zeros = (n: number) => new Uint8Array(n);
const fromHex = (h: string) => Uint8Array.from(Buffer.from(h, "hex"));

export class FakeVerifier implements EvidenceVerifier {
  calls = 0;
  async verify(evidence: TdxEvidence, now: Date): Promise<AttestedTdxEvidence> {
    this.calls++;
    const q = JSON.parse(new TextDecoder().decode(evidence.quote)) as FakeQuote;
    const attrs = zeros(8);
    if (q.debug) attrs[0] = 1;
    const report: TdReportBody = {
      teeTcbSvn: zeros(16),
      mrSeam: zeros(48),
      mrSignerSeam: zeros(48),
      seamAttributes: zeros(8),
      tdAttributes: attrs,
      xfam: Uint8Array.from([0xe7, 0x18, 0x06, 0, 0, 0, 0, 0]),
      mrTd: q.mrTd ? fromHex(q.mrTd) : new Uint8Array(48).fill(0x11),
      mrConfigId: q.mrConfigId ? fromHex(q.mrConfigId) : zeros(48),
      mrOwner: zeros(48),
      mrOwnerConfig: zeros(48),
      rtmr: [zeros(48), zeros(48), zeros(48), zeros(48)],
      reportData: fromHex(q.reportData),
    } as TdReportBody;
    const quote = {
      bytes: evidence.quote,
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
      trailing: zeros(0),
    } as unknown as Quote;
    const genuine = q.genuine ?? true;
    const tcbStatus = (q.tcbStatus ?? "UpToDate") as NonNullable<VerificationResult["tcbStatus"]>;
    const result = {
      ok: genuine,
      tcbStatus,
      advisoryIds: [],
      collateralExpired: false,
      earliestExpiry: { at: 1798761600, iso: "2027-01-01T00:00:00.000Z", item: "tcbInfo.nextUpdate" },
      expiredItems: [],
      matchedTcbLevel: {
        tcbDate: "2025-01-01T00:00:00Z",
        tcbStatus,
        advisoryIds: [],
        sgxComponents: [],
        pceSvn: 0,
        tdxComponents: null,
      },
      qeIdentityStatus: "UpToDate",
      qeIdentityLevel: null,
      tdxModuleStatus: "UpToDate",
      tdxModuleIdentity: null,
      checks: [],
      error: genuine
        ? null
        : { code: "QUOTE_SIGNATURE_INVALID", message: "the attestation key's signature does not verify" },
      at: Math.floor(now.getTime() / 1000),
      platform: null,
      collateral: null,
      quote,
    } satisfies VerificationResult;
    return {
      tee: "tdx",
      quote,
      report,
      verifiedLength: evidence.quote.length,
      trailingBytes: 0,
      evidenceSha256: createHash("sha256").update(evidence.quote).digest("hex"),
      result,
      eventLog: null,
      collateralSource: "fake",
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
