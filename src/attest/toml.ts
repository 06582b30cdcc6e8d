import { TdxError } from "../errors.js";

/**
 * The part of TOML 1.0 that init-data documents use (trustee kbs/docs/initdata.md): comments, `[table]`
 * headers, `key = value` with bare or quoted keys, and string values in all four forms (basic "…",
 * literal '…', multi-line basic """…""", multi-line literal '''…'''). Anything else (numbers, arrays,
 * inline tables, dotted keys, arrays of tables) is refused with the line it is on, never guessed at:
 * the document's digest is what the TD was launched with, and its claims must be exactly what it says.
 */
export type TomlTable = { [key: string]: string | TomlTable };

function bad(message: string, line: number): TdxError {
  return new TdxError("INIT_DATA_TOML_INVALID", `init-data TOML, line ${line}: ${message}`, {
    field: "init-data.body",
    data: { line },
    hint: "init-data is TOML with string values only: version, algorithm and a [data] table (trustee kbs/docs/initdata.md)",
  });
}

const BARE_KEY = /[A-Za-z0-9_-]/;

export function parseInitDataToml(text: string): TomlTable {
  const root: TomlTable = {};
  let table = root;
  let i = 0;
  let line = 1;
  const n = text.length;
  const peek = (s: string) => text.startsWith(s, i);
  const skipSpaces = () => {
    while (i < n && (text[i] === " " || text[i] === "\t")) i++;
  };
  const endOfLine = () => {
    skipSpaces();
    if (text[i] === "#") while (i < n && text[i] !== "\n") i++;
    if (i < n && text[i] === "\r") i++;
    if (i < n && text[i] !== "\n") throw bad(`unexpected ${JSON.stringify(text[i])} after the value`, line);
    if (i < n) {
      i++;
      line++;
    }
  };
  const basicEscape = (): string => {
    const c = text[i++];
    const simple: Record<string, string> = {
      b: "\b",
      t: "\t",
      n: "\n",
      f: "\f",
      r: "\r",
      '"': '"',
      "\\": "\\",
    };
    if (c !== undefined && c in simple) return simple[c]!;
    if (c === "u" || c === "U") {
      const len = c === "u" ? 4 : 8;
      const hex = text.slice(i, i + len);
      if (!/^[0-9A-Fa-f]+$/.test(hex) || hex.length !== len) throw bad(`bad \\${c} escape`, line);
      i += len;
      const cp = Number.parseInt(hex, 16);
      if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        throw bad(`\\${c}${hex} is not a Unicode scalar`, line);
      return String.fromCodePoint(cp);
    }
    throw bad(`unknown escape \\${c ?? ""}`, line);
  };
  const readString = (): string => {
    if (peek('"""') || peek("'''")) {
      const q = text.slice(i, i + 3);
      i += 3;
      // A newline right after the opening delimiter is trimmed.
      if (peek("\r\n")) i += 2;
      else if (peek("\n")) i++;
      if (text[i - 1] === "\n") line++;
      let out = "";
      for (;;) {
        if (i >= n) throw bad(`unterminated ${q} string`, line);
        if (peek(q)) {
          // Up to two extra quotes right before the closing delimiter belong to the string.
          let extra = 0;
          while (extra < 2 && text[i + 3 + extra] === q[0]) extra++;
          out += q[0]!.repeat(extra);
          i += 3 + extra;
          return out;
        }
        const c = text[i]!;
        if (c === "\n") line++;
        if (q === '"""' && c === "\\") {
          i++;
          // Line-ending backslash: drop it and all whitespace (and newlines) after it.
          let j = i;
          while (text[j] === " " || text[j] === "\t") j++;
          if (text[j] === "\n" || (text[j] === "\r" && text[j + 1] === "\n")) {
            i = j;
            while (i < n && /[ \t\r\n]/.test(text[i]!)) {
              if (text[i] === "\n") line++;
              i++;
            }
            continue;
          }
          out += basicEscape();
          continue;
        }
        out += c;
        i++;
      }
    }
    const q = text[i];
    i++;
    let out = "";
    for (;;) {
      const c = text[i];
      if (c === undefined || c === "\n") throw bad("unterminated string", line);
      i++;
      if (c === q) return out;
      if (q === '"' && c === "\\") out += basicEscape();
      else out += c;
    }
  };
  const readKey = (): string => {
    skipSpaces();
    const c = text[i];
    if (c === '"' || c === "'") {
      if (peek('"""') || peek("'''")) throw bad("a key cannot be a multi-line string", line);
      return readString();
    }
    const start = i;
    while (i < n && BARE_KEY.test(text[i]!)) i++;
    if (i === start) throw bad(`expected a key, found ${JSON.stringify(c ?? "end of text")}`, line);
    return text.slice(start, i);
  };
  const own = (t: TomlTable, k: string) => Object.hasOwn(t, k);

  while (i < n) {
    skipSpaces();
    const c = text[i];
    if (c === "#" || c === "\n" || c === "\r") {
      endOfLine();
      continue;
    }
    if (c === "[") {
      if (peek("[[")) throw bad("arrays of tables are not part of init-data", line);
      i++;
      const name = readKey();
      skipSpaces();
      if (text[i] === ".") throw bad("dotted table names are not part of init-data", line);
      if (text[i] !== "]") throw bad("expected ] after the table name", line);
      i++;
      if (own(root, name)) throw bad(`table [${name}] defined twice`, line);
      table = {};
      root[name] = table;
      endOfLine();
      continue;
    }
    const key = readKey();
    skipSpaces();
    if (text[i] === ".") throw bad("dotted keys are not part of init-data", line);
    if (text[i] !== "=") throw bad(`expected = after key ${JSON.stringify(key)}`, line);
    i++;
    skipSpaces();
    if (text[i] !== '"' && text[i] !== "'")
      throw bad(`the value of ${JSON.stringify(key)} is not a string (init-data values are strings)`, line);
    const keyLine = line;
    const value = readString();
    if (own(table, key)) throw bad(`key ${JSON.stringify(key)} defined twice`, keyLine);
    table[key] = value;
    endOfLine();
  }
  return root;
}
