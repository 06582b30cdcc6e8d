import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { loadCases, vectorsDir } from "../helpers/vectors.js";

const tdx = loadCases().find((c) => c.expected.quote.version === 4);

describe.skipIf(!vectorsDir() || !tdx)("verify's output keeps where the problem is", () => {
  const dir = tdx?.dir ?? "";

  it("text and --json name the field and byte offset of a malformed quote, as decode does", () => {
    const cut = readFileSync(join(dir, "quote.bin")).subarray(0, 700);
    const decode = runCli(["decode", "-"], cut);
    const where = /\((field [^,)]+, offset \d+)\)/.exec(decode.stderr)?.[1];
    expect(where).toBeDefined();
    const args = [
      "verify",
      "-",
      "--collateral",
      join(dir, "collateral.json"),
      "--at",
      String(tdx?.expected.at),
    ];
    const text = runCli(args, cut);
    expect(text.status).toBe(2);
    expect(text.stdout).toContain(`(${where})`);
    const json = JSON.parse(runCli([...args, "--json"], cut).stdout);
    expect(json.error.offset).toBeTypeOf("number");
    expect(`field ${json.error.field}, offset ${json.error.offset}`).toBe(where);
  });
});
