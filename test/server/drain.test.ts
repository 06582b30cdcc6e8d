import { expect, it } from "vitest";
import type { AttestedTdxEvidence, EvidenceVerifier, TdxEvidence } from "../../src/attest/index.js";
import { expectedReportData } from "../../src/kbs/binding.js";
import { attestationMessage, generateTeeKeyPair, KbsClient } from "../../src/kbs/client.js";
import { startTestBroker } from "./broker.js";
import { FakeVerifier, fakeQuoteBytes } from "./fake-evidence.js";

/** A verifier that holds each verification until released, to have a request in flight at will. */
class HeldVerifier implements EvidenceVerifier {
  readonly inner = new FakeVerifier();
  entered!: Promise<void>;
  #enter!: () => void;
  #release!: () => void;
  #gate!: Promise<void>;
  constructor() {
    this.entered = new Promise((r) => {
      this.#enter = r;
    });
    this.#gate = new Promise((r) => {
      this.#release = r;
    });
  }
  release() {
    this.#release();
  }
  async verify(evidence: TdxEvidence, now: Date): Promise<AttestedTdxEvidence> {
    this.#enter();
    await this.#gate;
    return this.inner.verify(evidence, now);
  }
}

it("drains: an attestation in flight when shutdown starts completes, new connections are refused", async () => {
  const verifier = new HeldVerifier();
  const broker = await startTestBroker({ verifier });
  const client = new KbsClient({ url: broker.url });
  const { nonce } = await client.auth();
  const key = generateTeeKeyPair();
  const rd = Buffer.from(expectedReportData(nonce, key.publicJwk, "")).toString("hex");
  const inFlight = client.attestRaw(
    attestationMessage(nonce, key.publicJwk, fakeQuoteBytes({ reportData: rd })),
  );
  await verifier.entered;
  const closing = broker.app.close();
  // The listener is closed at once: a new TD cannot start.
  await expect(fetch(`${broker.url}/healthz`, { headers: { connection: "close" } })).rejects.toThrow();
  verifier.release();
  const token = await inFlight;
  expect(token.split(".")).toHaveLength(3);
  await closing;
  await broker.close();
});
