/**
 * A quote handed to us by the kernel is only as long as its own structure says. Before the fix for
 * CVE-2026-31470 (c3fd16c3b98e, 7.0-rc6; stable 6.12.80, 6.18.21, 6.19.11) tdx_report_new() copied the host's
 * `out_len` bytes without checking them against its 8 KiB / 128 KiB buffer, so a buggy or hostile host could
 * make the outblob carry guest kernel memory after the quote; quotes are sent to verifiers, so that memory
 * would leave the TD. We cut every blob at the length its header and signature data give, and say so.
 */
import { TdxError } from "../errors.js";

const HEADER = 48;
const TEE_TYPE_TDX = 0x81;
/** TD report body (TDX 1.0) in a v4 quote. */
const TD10_BODY = 584;

/**
 * The length a TD quote v4/v5 declares for itself (header, body, 4-byte signature data length and that
 * many bytes), or null when the blob does not start like a TD quote (e.g. a CBOR/DICE blob), or a TdxError
 * when its header declares more bytes than the blob holds.
 */
export function declaredQuoteLength(blob: Uint8Array): number | null {
  if (blob.length < HEADER + 4) return null;
  const dv = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const version = dv.getUint16(0, true);
  const teeType = dv.getUint32(4, true);
  if (teeType !== TEE_TYPE_TDX || (version !== 4 && version !== 5)) return null;
  let sigLenAt: number;
  if (version === 4) sigLenAt = HEADER + TD10_BODY;
  else {
    if (blob.length < HEADER + 6) return null;
    sigLenAt = HEADER + 6 + dv.getUint32(HEADER + 2, true);
  }
  if (sigLenAt + 4 > blob.length) throw truncatedQuote(blob.length, sigLenAt + 4, "the body");
  const end = sigLenAt + 4 + dv.getUint32(sigLenAt, true);
  if (end > blob.length) throw truncatedQuote(blob.length, end, "its signature data");
  return end;
}

function truncatedQuote(have: number, need: number, what: string): TdxError {
  return new TdxError(
    "GUEST_QUOTE_TRUNCATED",
    `the quote from the guest interface holds ${have} bytes but ${what} ends at byte ${need}`,
    {
      offset: have,
      hint: "the host's answer was cut short (a quote over 8 KiB does not fit the GetQuote buffer of kernels before 7.0); check the QGS on the host, or use a 7.0+ guest kernel for large (DICE) quotes",
      data: { received: have, declared: need },
    },
  );
}

/**
 * Cut `blob` at its declared length. `where` names the interface for the warning; `kernelCopied` says the bytes
 * came from the kernel's GetQuote buffer (configfs-tsm, the seed GET_QUOTE), where the extra bytes may be
 * kernel memory on a kernel without the CVE-2026-31470 fix.
 */
export function trimQuote(
  blob: Uint8Array,
  where: string,
  kernelCopied: boolean,
): { quote: Uint8Array; warnings: string[] } {
  const declared = declaredQuoteLength(blob);
  if (declared === null)
    return {
      quote: blob,
      warnings: [
        `${where} returned ${blob.length} bytes that do not start like a TD quote v4/v5; passed on unchanged, their length could not be checked against their structure`,
      ],
    };
  if (declared === blob.length) return { quote: blob, warnings: [] };
  const extra = blob.length - declared;
  const why = kernelCopied
    ? `the host announced more bytes (out_len) than the quote holds; a kernel without the fix for CVE-2026-31470 (c3fd16c3b98e, Linux 7.0-rc6; stable 6.12.80, 6.18.21, 6.19.11) copies them from past its GetQuote buffer, which can be guest kernel memory: update the guest kernel and check the host's VMM/QGS`
    : "they are not part of the quote";
  return {
    quote: blob.slice(0, declared),
    warnings: [
      `${where} returned ${blob.length} bytes but the quote ends at byte ${declared}: dropped the ${extra} bytes after it (${why})`,
    ],
  };
}
