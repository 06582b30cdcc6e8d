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

/** Decode input that may be raw binary, hex or base64 (standard or URL-safe) text. */
export function decodeInputBytes(input: Uint8Array | string): { bytes: Uint8Array; encoding: InputEncoding } {
  if (typeof input !== "string" && !isTextual(input)) return { bytes: input, encoding: "binary" };
  const text = (typeof input === "string" ? input : Buffer.from(input).toString("latin1")).replace(
    /\s+/g,
    "",
  );
  if (text.length === 0) {
    throw new TdxError("INPUT_EMPTY", "the input is empty", {
      hint: "pass a quote or TDREPORT file, or - for stdin",
    });
  }
  const hex = text.startsWith("0x") || text.startsWith("0X") ? text.slice(2) : text;
  if (/^[0-9a-fA-F]+$/.test(hex) && hex.length % 2 === 0) {
    return { bytes: Uint8Array.from(Buffer.from(hex, "hex")), encoding: "hex" };
  }
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) {
    const bytes = Uint8Array.from(
      Buffer.from(text, text.includes("-") || text.includes("_") ? "base64url" : "base64"),
    );
    if (bytes.length > 0) return { bytes, encoding: "base64" };
  }
  if (typeof input !== "string") return { bytes: input, encoding: "binary" };
  throw new TdxError("INPUT_ENCODING", "the input is neither hex nor base64", {
    hint: "pass the quote as a binary file, as hex, or as base64 text",
  });
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
