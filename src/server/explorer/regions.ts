import type { FieldRange, Quote } from "../../abi/types.js";

/** The parts of a quote the explorer colours differently in its hex view. */
export type RegionId = "header" | "body" | "signatureData" | "qeReport" | "certificationData" | "trailing";

export interface QuoteRegion {
  id: RegionId;
  label: string;
  offset: number;
  size: number;
}

const LABELS: Record<RegionId, string> = {
  header: "Header",
  body: "Body",
  signatureData: "Signature data",
  qeReport: "QE report",
  certificationData: "Certification data",
  trailing: "Trailing bytes",
};

/** The longest path prefix ending in the segment `name` among the layout entries, e.g. the innermost
 * "…certificationData" (v4/v5 nest the PCK chain's certification data inside the type-6 one). */
function innermostPrefix(layout: FieldRange[], name: string): string | undefined {
  let best: string | undefined;
  for (const f of layout) {
    const segments = f.path.split(".");
    const at = segments.lastIndexOf(name);
    if (at < 0) continue;
    const prefix = segments.slice(0, at + 1).join(".");
    if (!best || prefix.length > best.length) best = prefix;
  }
  return best;
}

/** Bounding range of every layout entry under `prefix` (the entry itself included). */
function spanUnder(layout: FieldRange[], prefix: string): { offset: number; size: number } | undefined {
  let lo = Number.POSITIVE_INFINITY;
  let hi = -1;
  for (const f of layout) {
    if (f.path !== prefix && !f.path.startsWith(`${prefix}.`)) continue;
    lo = Math.min(lo, f.offset);
    hi = Math.max(hi, f.offset + f.size);
  }
  return hi < 0 ? undefined : { offset: lo, size: hi - lo };
}

/**
 * The regions of a parsed quote, from the most general to the most specific: a byte takes the colour
 * of the last region that covers it. The QE report and the PCK certification data sit inside the
 * signature data; trailing bytes are whatever follows the declared signature data.
 */
export function quoteRegions(quote: Quote): QuoteRegion[] {
  const total = quote.bytes.length;
  const sigEnd = Math.min(total, quote.signatureDataOffset + quote.signatureDataLength);
  const regions: QuoteRegion[] = [];
  const add = (id: RegionId, offset: number, size: number): void => {
    if (size > 0) regions.push({ id, label: LABELS[id], offset, size });
  };
  add("header", 0, Math.min(48, total));
  add("body", 48, quote.signedLength - 48);
  add("signatureData", quote.signedLength, sigEnd - quote.signedLength);

  for (const [id, segment] of [
    ["qeReport", "qeReport"],
    ["certificationData", "certificationData"],
  ] as const) {
    const prefix = innermostPrefix(quote.layout, segment);
    const span = prefix === undefined ? undefined : spanUnder(quote.layout, prefix);
    if (span) add(id, span.offset, span.size);
  }
  add("trailing", sigEnd, total - sigEnd);
  return regions;
}
