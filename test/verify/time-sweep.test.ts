import "reflect-metadata";
import { webcrypto, X509Certificate } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { describe, expect, it } from "vitest";
import { parseQuote, pckCertChainOf } from "../../src/abi/quote.js";
import { readCollateral } from "../../src/collateral/json.js";
import { Verifier } from "../../src/verify/index.js";
import { loadCases, VECTORS_SKIP_REASON, type VectorCase, vectorsDir } from "../helpers/vectors.js";

/**
 * A time sweep over every validity boundary (±1 s) of every real vector case. The expected verdict is the
 * vector's (Intel's, at its `at`; nothing else in it depends on the time), and whether the collateral is
 * expired is computed here, independently of the verifier (node's and @peculiar's parsers), from Intel's
 * windows:
 * - PCK chain and TCB Info issuer chain certificates: expired when t > notAfter; notBefore is not checked
 *   (QVL Verifiers/PckCertVerifier.cpp, TCBInfoVerifier.cpp, EnclaveIdentityVerifier.cpp);
 * - Root CA CRL and PCK CRL: expired when t < thisUpdate or t > nextUpdate (PckParser/CrlStore.cpp expired,
 *   PckParser.cpp Validity::isValid);
 * - TCB Info and QE Identity: expired when t > nextUpdate; issueDate is not checked.
 * The boundaries Intel does not check (notBefore, issueDate) are swept too: they must change nothing.
 */

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

interface Window {
  item: string;
  from?: number;
  until: number;
}
interface Boundary {
  what: string;
  at: number;
}

/** Intel's words for the failures the vectors carry, mapped to our codes. */
const INTEL_ERROR_TO_CODE: Record<string, string> = {
  TCB_LEVEL_NOT_FOUND: "TCB_LEVEL_NOT_FOUND",
  SGX_CRL_UNKNOWN_ISSUER: "CRL_UNKNOWN_ISSUER",
};

const seconds = (d: Date | string) => Math.floor(new Date(d).getTime() / 1000);

function pemBlocks(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
}

/** Intel's windows for one case, and every date boundary its collateral carries. */
function windowsOf(c: VectorCase): { windows: Window[]; boundaries: Boundary[] } {
  const raw = JSON.parse(c.collateralText) as Record<string, string>;
  const windows: Window[] = [];
  const boundaries: Boundary[] = [];
  const cert = (label: string, pem: string, checked: boolean) => {
    const x = new X509Certificate(pem);
    const from = seconds(x.validFrom);
    const until = seconds(x.validTo);
    if (checked) windows.push({ item: `${label}.notAfter`, until });
    boundaries.push({ what: `${label}.notBefore (not checked)`, at: from });
    boundaries.push({ what: `${label}.notAfter`, at: until });
  };
  const chain = pckCertChainOf(parseQuote(c.quote)) ?? pemBlocks(raw.pck_certificate_chain ?? "");
  for (const [i, pem] of chain.entries()) cert(`pckChain[${i}]`, pem, true);
  for (const [i, pem] of pemBlocks(raw.tcb_info_issuer_chain!).entries()) {
    cert(`tcbInfoIssuerChain[${i}]`, pem, true);
  }
  for (const [key, name] of [
    ["root_ca_crl", "rootCaCrl"],
    ["pck_crl", "pckCrl"],
  ] as const) {
    const crl = new x509.X509Crl(Buffer.from(raw[key]!, "hex"));
    const from = seconds(crl.thisUpdate);
    const until = seconds(crl.nextUpdate!);
    windows.push({ item: name, from, until });
    boundaries.push({ what: `${name}.thisUpdate`, at: from });
    boundaries.push({ what: `${name}.nextUpdate`, at: until });
  }
  for (const [key, name] of [
    ["tcb_info", "tcbInfo"],
    ["qe_identity", "qeIdentity"],
  ] as const) {
    const o = JSON.parse(raw[key]!) as { issueDate: string; nextUpdate: string };
    windows.push({ item: name, until: seconds(o.nextUpdate) });
    boundaries.push({ what: `${name}.issueDate (not checked)`, at: seconds(o.issueDate) });
    boundaries.push({ what: `${name}.nextUpdate`, at: seconds(o.nextUpdate) });
  }
  return { windows, boundaries };
}

function expiredAt(windows: Window[], t: number): boolean {
  return windows.some((w) => t > w.until || (w.from !== undefined && t < w.from));
}

describe.skipIf(!vectorsDir())(`time sweep over every validity boundary (${VECTORS_SKIP_REASON})`, () => {
  const cases = loadCases();
  let total = 0;

  it.each(cases.map((c) => [c.name, c] as const))("%s", (_n, c) => {
    const { windows, boundaries } = windowsOf(c);
    const collateral = readCollateral(c.collateralText);
    const e = c.expected.expect;
    const v = new Verifier();
    const fresh = (t: number) => new Verifier().verify(c.quote, collateral, { now: t });
    const times = [...new Set(boundaries.flatMap((b) => [b.at - 1, b.at + 1]))].sort((a, b) => a - b);
    for (const t of times) {
      const label = `${c.name} at ${new Date(t * 1000).toISOString()} (${boundaries
        .filter((b) => Math.abs(b.at - t) === 1)
        .map((b) => `${b.what}${b.at > t ? "-1s" : "+1s"}`)
        .join(", ")})`;
      const r = v.verify(c.quote, collateral, { now: t });
      expect({ ok: r.ok, tcbStatus: r.tcbStatus, code: r.error?.code ?? null }, label).toEqual({
        ok: e.error === null,
        tcbStatus: e.tcbStatus,
        code: e.error === null ? null : INTEL_ERROR_TO_CODE[e.error],
      });
      if (e.error === null) {
        expect(r.collateralExpired, label).toBe(expiredAt(windows, t));
        // The cached path (a reused verifier) and a fresh one agree at every time.
        expect(fresh(t).collateralExpired, label).toBe(r.collateralExpired);
      }
      total++;
    }
  });

  it("covers several hundred (case, time) points", () => {
    if (cases.length > 0) expect(total).toBeGreaterThan(300);
  });
});
