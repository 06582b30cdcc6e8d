import { base64Bytes, hexBytes, latin1Of } from "../encoding.js";
import { TdxError } from "../errors.js";
import { u16 } from "./bytes.js";
import { parseQuote } from "./quote.js";
import { parseTdReport } from "./tdreport.js";
import type { Quote, TdReport } from "./types.js";
import { TDREPORT_SIZE } from "./types.js";

export type InputEncoding = "binary" | "hex" | "base64";

function isTextual(b: Uint8Array): boolean {
  const n = Math.min(b.length, 4096);
  for (let i = 0; i < n; i++) {
    const c = b[i]!;
    if (c === 9 || c === 10 || c === 13 || (c >= 32 && c < 127)) continue;
    return false;
  }
  return b.length > 0;
}

const EMPTY_HINT = "pass a quote or TDREPORT file (binary, hex or base64), or - for stdin";

/**
 * Decode input that may be raw binary, hex or base64 (standard or URL-safe) text. A quote or TDREPORT
 * always starts with a byte that is not printable text (quote version 3-5, TDREPORT type 0x81), so input
 * that is all text is never taken as binary: text that is neither hex nor base64 is refused as such.
 */
export function decodeInputBytes(input: Uint8Array | string): { bytes: Uint8Array; encoding: InputEncoding } {
  if (input.length === 0)
    throw new TdxError("INPUT_EMPTY", "the input is empty (0 bytes)", { offset: 0, hint: EMPTY_HINT });
  if (typeof input !== "string" && !isTextual(input)) return { bytes: input, encoding: "binary" };
  const raw = typeof input === "string" ? input : latin1Of(input);
  const pem = raw.indexOf("-----BEGIN ");
  if (pem >= 0)
    throw new TdxError("INPUT_ENCODING", "the input is a PEM file, not a quote", {
      offset: pem,
      hint: "pass the quote (binary, hex or base64); certificates and keys go to --trust-root or --collateral",
    });
  const text = raw.replace(/\s+/g, "");
  if (text.length === 0) {
    throw new TdxError("INPUT_EMPTY", "the input holds only white space", { hint: EMPTY_HINT });
  }
  const hex = text.startsWith("0x") || text.startsWith("0X") ? text.slice(2) : text;
  if (/^[0-9a-fA-F]+$/.test(hex)) {
    if (hex.length % 2 === 0) return { bytes: hexBytes(hex) as Uint8Array, encoding: "hex" };
    // All hex digits but odd: a hex dump that lost a digit, not base64 that happens to use only a-f.
    throw new TdxError(
      "INPUT_HEX_ODD_LENGTH",
      `the input is hex with an odd number of digits (${hex.length})`,
      {
        offset: hex.length,
        hint: "a digit is missing or one too many (each byte is two hex digits): copy the hex again",
      },
    );
  }
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) {
    if (text.length % 4 === 1)
      throw new TdxError("INPUT_BASE64_LENGTH", `the input is base64 of impossible length (${text.length})`, {
        offset: text.length,
        hint: "base64 text is cut or has a stray character: copy it again",
      });
    const bytes = base64Bytes(text);
    if (bytes.length > 0) return { bytes, encoding: "base64" };
  }
  const bad = firstForeignChar(raw);
  throw new TdxError(
    "INPUT_ENCODING",
    `the input is text but neither hex nor base64 (${JSON.stringify(raw[bad] ?? "")} at offset ${bad})`,
    {
      offset: bad,
      hint: "pass the quote as a binary file, as hex, or as base64 text (a PEM or JSON file is not a quote)",
    },
  );
}

/** Offset of the first character that is neither white space nor of the base64/hex alphabets. */
function firstForeignChar(raw: string): number {
  const i = raw.search(/[^\sA-Za-z0-9+/_=-]/);
  return Math.max(i, 0);
}

export type DecodedInput =
  | { kind: "quote"; encoding: InputEncoding; bytes: Uint8Array; quote: Quote }
  | { kind: "tdreport"; encoding: InputEncoding; bytes: Uint8Array; tdReport: TdReport };

/** Detect the encoding and whether the input is a quote or a TDREPORT, and parse it. */
export function decodeAttestationInput(input: Uint8Array | string): DecodedInput {
  const { bytes, encoding } = decodeInputBytes(input);
  const version = bytes.length >= 2 ? u16(bytes, 0) : -1;
  if (version >= 3 && version <= 5) return { kind: "quote", encoding, bytes, quote: parseQuote(bytes) };
  if (bytes.length === TDREPORT_SIZE && bytes[0] === 0x81) {
    return { kind: "tdreport", encoding, bytes, tdReport: parseTdReport(bytes) };
  }
  if (bytes[0] === 0x81) return { kind: "tdreport", encoding, bytes, tdReport: parseTdReport(bytes) };
  // Not recognisable as either: let the quote parser give the precise error.
  return { kind: "quote", encoding, bytes, quote: parseQuote(bytes) };
}

/** Read a quote given as binary, hex or base64. */
export function readQuoteInput(input: Uint8Array | string): Quote {
  return parseQuote(decodeInputBytes(input).bytes);
}
