import { TdxError } from "../../errors.js";

/** Largest quote the explorer accepts; real quotes are 1-10 KiB, padded buffers up to a few pages. */
export const MAX_QUOTE_BYTES = 1024 * 1024;

/**
 * Read the time a verification is judged at: unix seconds (number or digits) or an ISO 8601 date.
 * Returns unix milliseconds.
 */
export function parseAtTime(value: unknown, field = "at"): number {
  if (typeof value === "number" && Number.isFinite(value)) return Math.round(value * 1000);
  if (typeof value === "string") {
    const s = value.trim();
    if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000);
    const ms = Date.parse(s);
    if (s.length > 0 && Number.isFinite(ms)) return ms;
  }
  throw new TdxError("EXPLORER_BAD_TIME", `${field} is not a time`, {
    field,
    data: { value: typeof value === "string" ? value : typeof value },
    hint: "give unix seconds (e.g. 1752919234) or an ISO 8601 date (e.g. 2025-07-19T10:00:34Z), or leave it empty for now",
  });
}
