import { base64Bytes } from "../encoding.js";
import { TdxError } from "../errors.js";
import { readNode, TAG_SEQUENCE } from "./der.js";

/**
 * PEM certificate chains read the way Intel's QVL reads them (QVL `CertVerification/CertificateChain.cpp`
 * `splitChain` + `parse`, each block through OpenSSL's `PEM_read_bio_X509` in `X509/Certificate.cpp`):
 * - the text is a C string: it ends at the first NUL byte (quotes pad their chain with NULs);
 * - text before, between and after the CERTIFICATE blocks is ignored (`splitChain` skips to the next
 *   "-----BEGIN CERTIFICATE-----"); the BEGIN marker ends its line, the END marker starts one;
 * - inside a block, spaces, tabs and line breaks are whitespace to OpenSSL's base64 decoder
 *   (`EVP_DecodeUpdate`); any other character that is not base64 fails the chain, and so does data after
 *   the "=" padding;
 * - the DER read from a block is one certificate (`d2i_X509`); bytes after it are ignored.
 * Whitespace and text outside the blocks carry no certificate bytes, so nothing a certificate says changes;
 * every certificate is still verified by its signature.
 */

const BEGIN = "-----BEGIN CERTIFICATE-----";
const END = "-----END CERTIFICATE-----";
const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_VALUE = new Int16Array(128).fill(-1);
for (let i = 0; i < B64.length; i++) B64_VALUE[B64.charCodeAt(i)] = i;

function pemError(field: string, message: string, offset: number, hint: string): TdxError {
  return new TdxError("PEM_MALFORMED", `${field}: ${message}`, { field, offset, hint });
}

const CORRUPT_HINT = "the PEM text is corrupt; obtain the certificate chain again";

/**
 * Decode one block body as OpenSSL's EVP_DecodeUpdate does; null when it refuses it. A body of whole
 * base64 quanta with whitespace anywhere and "=" only at its end (the usual case) goes to Node's decoder,
 * which skips the same whitespace; anything else through the character loop.
 */
function decodeBody(pem: string, start: number, end: number): Uint8Array | null {
  let chars = 0;
  let pad = 0;
  let plain = true;
  for (let i = start; i < end && plain; i++) {
    const c = pem.charCodeAt(i);
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) continue;
    if (c === 0x3d) pad++;
    else if (pad > 0 || c >= 128 || B64_VALUE[c]! < 0) plain = false;
    chars++;
  }
  if (plain && pad <= 2 && chars % 4 === 0) {
    return base64Bytes(pem.slice(start, end));
  }
  return decodeBodySlow(pem, start, end);
}

function decodeBodySlow(pem: string, start: number, end: number): Uint8Array | null {
  const out = new Uint8Array(Math.ceil(((end - start) * 3) / 4));
  let n = 0;
  let acc = 0;
  let bits = 0;
  let pad = 0;
  for (let i = start; i < end; i++) {
    const c = pem.charCodeAt(i);
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) continue;
    if (c === 0x3d) {
      pad++;
      if (pad > 2) return null;
      continue;
    }
    const v = c < 128 ? B64_VALUE[c]! : -1;
    if (v < 0 || pad > 0) return null;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = (acc >> bits) & 0xff;
    }
  }
  // Whole quanta only: 4 characters per 3 bytes, "=" standing for the missing ones.
  const chars = ((n * 8 + bits) / 6) | 0;
  if ((chars + pad) % 4 !== 0 || (pad > 0 && (chars % 4) + pad !== 4)) return null;
  return out.subarray(0, n);
}

/** The first DER TLV of `der` (bytes after it are ignored, as `d2i_X509` ignores them). */
function firstTlv(der: Uint8Array): Uint8Array {
  if (der.length >= 2 && der[0] === TAG_SEQUENCE) {
    try {
      const node = readNode(der, 0, der.length);
      return der.subarray(0, node.end);
    } catch {
      // Not even a TLV: the certificate parser reports it.
    }
  }
  return der;
}

/**
 * The certificates of a PEM chain as Intel's QVL splits and reads it (see above), in order. Refuses a chain
 * without a certificate and a block that is not base64; a BEGIN with no END after it ends the chain
 * (ignored, as QVL's splitChain never reaches it).
 */
export function qvlPemCertificates(text: string, field = "pem"): Uint8Array[] {
  const nul = text.indexOf("\0");
  const pem = nul < 0 ? text : text.slice(0, nul);
  const out: Uint8Array[] = [];
  let from = 0;
  for (;;) {
    const begin = pem.indexOf(BEGIN, from);
    if (begin < 0) break;
    // The BEGIN marker ends its line (trailing spaces and tabs aside).
    let bodyStart = begin + BEGIN.length;
    while (bodyStart < pem.length && /[ \t\r]/.test(pem[bodyStart]!)) bodyStart++;
    if (bodyStart < pem.length && pem[bodyStart] !== "\n") {
      throw pemError(field, `certificate ${out.length}: text after the BEGIN line`, begin, CORRUPT_HINT);
    }
    // The body runs to the first line that starts with "-----END ".
    let endLine = pem.indexOf("\n-----END ", bodyStart);
    if (endLine < 0) {
      // QVL CertificateChain::splitChain walks END markers: a BEGIN after the last END is never read.
      if (pem.indexOf("-----END ", bodyStart) < 0) break;
      throw pemError(field, `certificate ${out.length} has no END line`, begin, CORRUPT_HINT);
    }
    endLine += 1;
    if (!pem.startsWith(END, endLine)) {
      throw pemError(field, `certificate ${out.length} ends with another END line`, endLine, CORRUPT_HINT);
    }
    const der = decodeBody(pem, bodyStart, endLine);
    if (!der || der.length === 0) {
      throw pemError(field, `certificate ${out.length} is not valid base64`, begin, CORRUPT_HINT);
    }
    out.push(firstTlv(der));
    from = endLine + END.length;
  }
  if (out.length === 0) {
    throw new TdxError("PEM_MALFORMED", `${field}: no PEM certificate found`, {
      field,
      hint: "give PEM text with -----BEGIN CERTIFICATE----- blocks",
    });
  }
  return out;
}
