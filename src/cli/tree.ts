/** Render a JSON value as an indented, readable tree (used for human output of decoded structures). */
export function renderTree(value: unknown, indent = ""): string {
  const lines: string[] = [];
  walk(value, indent, lines);
  return lines.join("\n");
}

function scalar(v: unknown): string {
  if (typeof v === "string") return v.includes("\n") ? JSON.stringify(v) : v === "" ? '""' : v;
  return String(v);
}

function walk(value: unknown, indent: string, lines: string[]): void {
  if (value === null || typeof value !== "object") {
    lines.push(`${indent}${scalar(value)}`);
    return;
  }
  const entries: [string, unknown][] = Array.isArray(value)
    ? value.map((v, i) => [`[${i}]`, v])
    : Object.entries(value as Record<string, unknown>);
  for (const [k, v] of entries) {
    if (v !== null && typeof v === "object") {
      if (isFlagged(v)) {
        const f = v as { hex: string; flags?: string[]; debug?: boolean };
        const extra = f.flags
          ? ` [${f.flags.join(", ") || "none"}]`
          : f.debug !== undefined
            ? ` (debug=${f.debug})`
            : "";
        lines.push(`${indent}${k}: ${f.hex}${extra}`);
        continue;
      }
      if (Array.isArray(v) && v.every((x) => typeof x === "string" && x.startsWith("-----BEGIN"))) {
        lines.push(`${indent}${k}: ${v.length} PEM certificate(s)`);
        continue;
      }
      lines.push(`${indent}${k}:`);
      walk(v, `${indent}  `, lines);
    } else {
      lines.push(`${indent}${k}: ${scalar(v)}`);
    }
  }
}

function isFlagged(v: object): boolean {
  return !Array.isArray(v) && "hex" in v && ("flags" in v || "debug" in v);
}
