import type { FieldRange, JsonValue, Quote } from "../../abi/index.js";
import { quoteToJson, toHex } from "../../abi/index.js";
import { latin1Of } from "../../encoding.js";

export interface ByteRange {
  offset: number;
  size: number;
}

/** One node of the tree the page renders: the decoded JSON with the bytes each field occupies. */
export interface ExplorerNode {
  key: string;
  /** Dotted path of the node in the decoded JSON, e.g. "body.mr_td". */
  path: string;
  /** Leaf value (hex string, number, boolean, list of names); absent for groups. */
  value?: JsonValue;
  children?: ExplorerNode[];
  /** Bytes the node occupies: its own layout entry, or for groups the span of its children. */
  range?: ByteRange;
  /** The `quote.layout` path the range came from, when the node has one of its own. */
  field?: string;
}

/** The JSON keys use Intel's C names and the layout camelCase; compare them without case or underscores. */
function norm(path: string): string {
  return path.toLowerCase().replace(/[^a-z0-9.]/g, "");
}

/** JSON paths whose layout entry has another name (both sides normalized). */
const ALIASES: Record<string, string> = {
  "header.attkeytype": "header.attestationkeytype",
  signaturedatalen: "signaturedatalength",
  trailingbytes: "trailing",
};

/** Derived JSON leaves that describe the bytes of a sibling field (e.g. tee_type_name of tee_type). */
const DERIVED_SIBLING: Record<string, string> = {
  teetypename: "teetype",
  typename: "type",
};

function isLeafValue(v: JsonValue): boolean {
  return (
    v === null ||
    typeof v !== "object" ||
    (Array.isArray(v) && v.every((x) => x === null || typeof x !== "object"))
  );
}

function span(ranges: (ByteRange | undefined)[]): ByteRange | undefined {
  let lo = Number.POSITIVE_INFINITY;
  let hi = -1;
  for (const r of ranges) {
    if (!r) continue;
    lo = Math.min(lo, r.offset);
    hi = Math.max(hi, r.offset + r.size);
  }
  return hi < 0 ? undefined : { offset: lo, size: hi - lo };
}

/** Find `needle` (ASCII) inside bytes[from, to). */
function indexOfAscii(bytes: Uint8Array, needle: string, from: number, to: number): number {
  // One character per byte: string positions are byte offsets (no Buffer: this runs in the page too).
  const at = latin1Of(bytes.subarray(from, Math.max(from, to))).indexOf(needle);
  return at < 0 ? -1 : from + at;
}

/**
 * Join the decoded JSON of a quote (`quoteToJson`) with its byte layout (`quote.layout`), so that every
 * node the page shows knows which bytes it occupies.
 */
export function explorerTree(quote: Quote): ExplorerNode[] {
  const json = quoteToJson(quote);
  const layout = quote.layout;
  const byPath = new Map<string, FieldRange>();
  for (const f of layout) byPath.set(norm(f.path), f);
  const matched = new Set<string>();

  const lookup = (path: string): FieldRange | undefined => {
    const n = norm(path);
    const direct = byPath.get(ALIASES[n] ?? n);
    if (direct) return direct;
    const dot = n.lastIndexOf(".");
    const last = n.slice(dot + 1);
    const sibling = DERIVED_SIBLING[last];
    if (sibling !== undefined) return byPath.get(`${n.slice(0, dot + 1)}${sibling}`);
    // The v4/v5 header keeps the v3 QE/PCE SVN bytes as "reserved".
    if (n === "header.reserved") {
      const a = byPath.get("header.qesvn");
      const b = byPath.get("header.pcesvn");
      if (a && b) {
        matched.add(a.path).add(b.path);
        return { path: "header.qeSvn+pceSvn", offset: a.offset, size: a.size + b.size };
      }
    }
    return undefined;
  };

  const build = (
    key: string,
    value: JsonValue,
    path: string,
    inherited: ByteRange | undefined,
  ): ExplorerNode => {
    const node: ExplorerNode = { key, path };
    const own = lookup(path);
    if (own) {
      node.field = own.path;
      matched.add(own.path);
    }
    const ownRange = own ? { offset: own.offset, size: own.size } : undefined;

    if (key === "pck_cert_chain" && Array.isArray(value)) {
      // The PEM certificates sit in the certification data payload: find each one's bytes.
      const data = byPath.get(norm(`${path.slice(0, path.lastIndexOf("."))}.data`));
      const from = data?.offset ?? 0;
      const to = data ? data.offset + data.size : quote.bytes.length;
      let cursor = from;
      node.children = value.map((pem, i) => {
        const child: ExplorerNode = { key: `certificate ${i}`, path: `${path}.${i}`, value: pem };
        if (typeof pem === "string") {
          const at = indexOfAscii(quote.bytes, pem, cursor, to);
          if (at >= 0) {
            child.range = { offset: at, size: pem.length };
            cursor = at + pem.length;
          }
        }
        return child;
      });
      if (data) {
        node.field = data.path;
        matched.add(data.path);
      }
      node.range = data ? { offset: data.offset, size: data.size } : span(node.children.map((c) => c.range));
      return node;
    }

    if (isLeafValue(value)) {
      node.value = value;
      const r = ownRange ?? inherited;
      if (r) node.range = r;
      return node;
    }
    const entries: [string, JsonValue][] = Array.isArray(value)
      ? value.map((v, i) => [String(i), v])
      : Object.entries(value as Record<string, JsonValue>);
    node.children = entries.map(([k, v]) => build(k, v, `${path}.${k}`, ownRange));
    const r = ownRange ?? span(node.children.map((c) => c.range));
    if (r) node.range = r;
    return node;
  };

  // "kind" and "size" describe the input, not bytes of it (the summary carries the size).
  const roots = Object.entries(json)
    .filter(([k]) => k !== "kind" && k !== "size")
    .map(([k, v]) => build(k, v, k, undefined));
  addUnnamedFields(quote, roots, matched);
  return roots;
}

function snakeCase(path: string): string {
  return path
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/\./g, "_")
    .toLowerCase();
}

function littleEndian(bytes: Uint8Array): number {
  let v = 0;
  for (let i = bytes.length - 1; i >= 0; i--) v = v * 256 + bytes[i]!;
  return v;
}

/**
 * Layout fields the decoded JSON leaves out (e.g. the QE auth data size) still deserve a node: add each
 * to the deepest group whose path is a prefix of its own, in byte order.
 */
function addUnnamedFields(quote: Quote, roots: ExplorerNode[], matched: Set<string>): void {
  const groups = new Map<string, ExplorerNode>();
  const index = (nodes: ExplorerNode[]): void => {
    for (const n of nodes) {
      if (!n.children) continue;
      groups.set(norm(n.path), n);
      index(n.children);
    }
  };
  index(roots);
  for (const f of quote.layout) {
    if (matched.has(f.path)) continue;
    const segments = f.path.split(".");
    for (let cut = segments.length - 1; cut >= 1; cut--) {
      const parent = groups.get(norm(segments.slice(0, cut).join(".")));
      if (!parent?.children) continue;
      const rest = segments.slice(cut).join(".");
      const bytes = quote.bytes.subarray(f.offset, f.offset + f.size);
      const node: ExplorerNode = {
        key: snakeCase(rest),
        path: `${parent.path}.${snakeCase(rest)}`,
        value: f.size <= 4 ? littleEndian(bytes) : toHex(bytes),
        range: { offset: f.offset, size: f.size },
        field: f.path,
      };
      const at = parent.children.findIndex((c) => c.range !== undefined && c.range.offset > f.offset);
      parent.children.splice(at < 0 ? parent.children.length : at, 0, node);
      break;
    }
  }
}
