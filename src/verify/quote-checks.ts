import { parseQuote } from "../abi/quote.js";
import {
  CERT_TYPE_QE_REPORT_CERTIFICATION_DATA,
  type CertificationData,
  INTEL_QE_VENDOR_ID,
  type QeReportCertificationData,
  type Quote,
  TEE_TYPE_TDX,
} from "../abi/types.js";
import type { TcbInfo } from "../collateral/tcb-info.js";
import type { Collateral } from "../collateral/types.js";
import type { PckExtensions } from "../crypto/pck.js";
import { TdxError } from "../errors.js";
import { bytesEqual, hex, latin1 } from "./bytes.js";
import type { StepContext } from "./context.js";
import type { CertEntry } from "./entries.js";
import { HINT_TAMPERED, type Run } from "./run.js";

/**
 * The quote's own checks (QVL `QuoteVerification/Quote.cpp` parse/validate; `Verifiers/QuoteVerifier.cpp`
 * 4.1.2.4.9-10, 4.1.2.4.12-13, 4.1.2.4.16): its format, the TCB Info it is judged by, the QE report's
 * signature by the PCK key and its binding of the attestation key, and the quote signature.
 */

/** The bytes of a quote given as bytes or as a parsed Quote; undefined for anything else. */
export function quoteBytesOf(input: unknown): Uint8Array | undefined {
  const bytes = input instanceof Uint8Array ? input : (input as Partial<Quote> | null)?.bytes;
  return bytes instanceof Uint8Array ? bytes : undefined;
}

/**
 * Step 1: parse (a parsed Quote is re-parsed from its bytes: only what the signature covers may reach the
 * result), Intel's QE vendor, certification data type 6 around a QE report (v4/v5) with inner type 1..5.
 */
export function checkQuoteFormat(
  run: Run,
  input: unknown,
): { quote: Quote; qe: QeReportCertificationData; inner: CertificationData } {
  let quote: Quote;
  try {
    const bytes = quoteBytesOf(input);
    if (!bytes) {
      throw new TdxError("QUOTE_NOT_BYTES", "the quote must be bytes or a Quote from parseQuote", {
        hint: "pass the quote bytes (binary) or the result of parseQuote",
      });
    }
    quote = parseQuote(bytes);
  } catch (e) {
    run.failWith("quote.parse", e);
  }
  const isTdx = quote.header.teeType === TEE_TYPE_TDX;
  run.pass("quote.parse", {
    actual: { version: quote.header.version, teeType: isTdx ? "TDX" : "SGX", bodyType: quote.body.type },
  });
  const slack = quote.signatureDataSlack?.length ?? 0;
  if (slack > 0) {
    // Intel's parser ignores them (the length is not signed): flagged, not refused.
    run.note("quote.signatureDataSlack", {
      actual: slack,
      detail: `signature_data_len declares ${slack} bytes more than its parts; Intel's QVL ignores them (not signed)`,
    });
  }
  if (!bytesEqual(quote.header.qeVendorId, INTEL_QE_VENDOR_ID)) {
    run.fail(
      "quote.qeVendorId",
      "QUOTE_QE_VENDOR_UNKNOWN",
      "the quote was not produced by Intel's QE",
      HINT_TAMPERED,
      {
        expected: hex(INTEL_QE_VENDOR_ID),
        actual: hex(quote.header.qeVendorId),
        field: "header.qeVendorId",
      },
    );
  }
  const sd = quote.signatureData;
  if (quote.header.version !== 3 && sd.certificationData?.type !== CERT_TYPE_QE_REPORT_CERTIFICATION_DATA) {
    run.fail(
      "quote.certificationData",
      "QUOTE_UNSUPPORTED_FORMAT",
      `v${quote.header.version} quotes must carry certification data type 6 (QE report), got ${sd.certificationData?.type}`,
      HINT_TAMPERED,
      {
        expected: 6,
        actual: sd.certificationData?.type ?? null,
        field: "signatureData.certificationData.type",
      },
    );
  }
  const qe = sd.qeReportCertificationData;
  if (!qe) {
    run.fail(
      "quote.certificationData",
      "QUOTE_UNSUPPORTED_FORMAT",
      "the quote has no QE report",
      HINT_TAMPERED,
    );
  }
  const inner = qe.certificationData;
  if (inner.type < 1 || inner.type > 5) {
    run.fail(
      "quote.certificationData",
      "QUOTE_UNSUPPORTED_FORMAT",
      `QE certification data type ${inner.type} is not 1..5`,
      HINT_TAMPERED,
      { expected: "1..5", actual: inner.type, field: "qeReportCertificationData.certificationData.type" },
    );
  }
  run.pass("quote.format", { actual: { qeVendorId: "Intel", certificationDataType: inner.type } });
  return { quote, qe, inner };
}

/** TypeScript callers can still pass anything at run time: refuse a collateral object of the wrong shape. */
export function checkCollateralShape(run: Run, c: Collateral): void {
  const strings = ["tcbInfoIssuerChain", "tcbInfo", "qeIdentity"] as const;
  // Intel needs neither issuer chain (signed-collateral.ts); when present they must be text.
  const optionalStrings = ["pckCrlIssuerChain", "qeIdentityIssuerChain", "pckCertificateChain"] as const;
  const bytes = ["rootCaCrl", "pckCrl", "tcbInfoSignature", "qeIdentitySignature"] as const;
  const bad =
    c === null || typeof c !== "object"
      ? ["(collateral)"]
      : [
          ...strings.filter((k) => typeof c[k] !== "string"),
          ...bytes.filter((k) => !(c[k] instanceof Uint8Array)),
          ...optionalStrings.filter((k) => c[k] !== undefined && typeof c[k] !== "string"),
        ];
  if (bad.length > 0) {
    run.fail(
      "collateral.format",
      "COLLATERAL_MALFORMED",
      `the collateral is missing or has wrong types for: ${bad.join(", ")}`,
      "build the collateral with readCollateral(jsonText) or fetch it with the collateral client",
      { actual: bad },
    );
  }
}

/** 4.1.2.4.9-10: the TCB Info is for the quote's TEE (TDX: v3 id TDX), the PCK's FMSPC and PCE-ID. */
export function checkTcbInfoFor(run: Run, isTdx: boolean, tcbInfo: TcbInfo, ext: PckExtensions): void {
  const tcbForTdx = tcbInfo.version >= 3 && tcbInfo.id === "TDX";
  if (isTdx !== tcbForTdx) {
    run.fail(
      "tcbInfo.teeType",
      "TCB_INFO_MISMATCH",
      `the TCB Info is for ${tcbForTdx ? "TDX" : "SGX"} but the quote is ${isTdx ? "TDX" : "SGX"}`,
      `fetch the ${isTdx ? "TDX" : "SGX"} TCB Info for FMSPC ${ext.fmspc}`,
      { expected: isTdx ? "TDX (version 3)" : "SGX", actual: `${tcbInfo.id} (version ${tcbInfo.version})` },
    );
  }
  run.pass("tcbInfo.teeType", { expected: isTdx ? "TDX" : "SGX", actual: tcbInfo.id });
  if (tcbInfo.fmspc !== ext.fmspc) {
    run.fail(
      "tcbInfo.fmspc",
      "TCB_INFO_MISMATCH",
      `the TCB Info is for FMSPC ${tcbInfo.fmspc} but the PCK certificate says ${ext.fmspc}`,
      `fetch the TCB Info for FMSPC ${ext.fmspc}`,
      { expected: ext.fmspc, actual: tcbInfo.fmspc },
    );
  }
  run.pass("tcbInfo.fmspc", { expected: ext.fmspc, actual: tcbInfo.fmspc });
  if (tcbInfo.pceId !== ext.pceId) {
    run.fail(
      "tcbInfo.pceId",
      "TCB_INFO_MISMATCH",
      `the TCB Info is for PCE-ID ${tcbInfo.pceId} but the PCK certificate says ${ext.pceId}`,
      "fetch the TCB Info that matches this platform",
      { expected: ext.pceId, actual: tcbInfo.pceId },
    );
  }
  run.pass("tcbInfo.pceId", { expected: ext.pceId, actual: tcbInfo.pceId });
}

/**
 * 4.1.2.4.12-13: the QE report signed by the PCK key; REPORTDATA[0..32) = SHA-256(attestation key || QE
 * auth data). QVL compares the 32 bytes of the digest only (std::equal); bytes 32..64 are not read (Intel's
 * QE writes zeros there, and the QE identity check already pins Intel's QE). Both remembered per (PCK,
 * QE report, attestation key, auth data).
 */
export function checkQeReport(
  ctx: StepContext,
  pck: CertEntry,
  qe: QeReportCertificationData,
  attestationKey: Uint8Array,
): void {
  const run: Run = ctx.run;
  const caches = ctx.caches;
  const qeKey = `q${latin1(qe.qeReportBytes)}${latin1(qe.qeReportSignature)}`;
  const qeSigOk = caches.verifiedBy(run, pck, qeKey, () =>
    run.crypto.verify({
      src: { entry: pck },
      message: qe.qeReportBytes,
      signature: qe.qeReportSignature,
      der: false,
    }),
  );
  if (!qeSigOk) {
    run.fail(
      "qeReport.signature",
      "QE_REPORT_SIGNATURE_INVALID",
      "the QE report signature does not verify with the PCK certificate's key",
      HINT_TAMPERED,
      { field: "signatureData.qeReportSignature" },
    );
  }
  run.pass("qeReport.signature", { detail: "ECDSA P-256 by the PCK key over the 384-byte QE report" });
  const bindingKey = `${qeKey}${latin1(attestationKey)}${latin1(qe.qeAuthData)}`;
  let expectedHash: Uint8Array | undefined;
  const bound = caches.verifiedBy(run, pck, bindingKey, () => {
    expectedHash = caches.crypto.sha256(attestationKey, qe.qeAuthData);
    return bytesEqual(expectedHash, qe.qeReport.reportData.subarray(0, 32));
  });
  if (!bound) {
    run.fail(
      "qeReport.reportData",
      "QE_REPORT_DATA_MISMATCH",
      "the QE report data does not start with SHA-256(attestation key || QE auth data)",
      HINT_TAMPERED,
      {
        expected: expectedHash ? hex(expectedHash) : undefined,
        actual: hex(qe.qeReport.reportData.subarray(0, 32)),
        field: "qeReport.reportData",
      },
    );
  }
  run.pass("qeReport.reportData", { expected: "SHA-256(attestationKey || qeAuthData) in bytes 0..32" });
}

/** 4.1.2.4.16: the quote signature by the attestation key, over header || body. */
export function checkQuoteSignature(run: Run, quote: Quote): void {
  const sd = quote.signatureData;
  let ok: boolean;
  try {
    ok = run.crypto.verify({
      src: { raw: sd.attestationKey },
      message: quote.signedBytes,
      signature: sd.signature,
      der: false,
    });
  } catch (e) {
    run.failWith("quote.signature", e);
  }
  if (!ok) {
    run.fail(
      "quote.signature",
      "QUOTE_SIGNATURE_INVALID",
      "the quote signature does not verify with the attestation key",
      HINT_TAMPERED,
      { field: "signatureData.signature" },
    );
  }
  run.pass("quote.signature", { detail: `ECDSA P-256 over bytes [0, ${quote.signedLength})` });
}
