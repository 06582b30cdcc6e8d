import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { cliPath, runCli } from "../helpers/cli.js";
import { loadCases, vectorsDir } from "../helpers/vectors.js";

const cases = loadCases();
const tdx = cases.find((c) => c.expected.quote.version === 4);

describe.skipIf(!vectorsDir() || !tdx)("tdx-attest decode", () => {
  // describe.skipIf still runs this body when skipped: nothing here may assume the vectors exist.
  const file = join(tdx?.dir ?? "", "quote.bin");

  test("binary input, readable tree", () => {
    const r = runCli(["decode", file]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Quote v4 \(TDX\)/);
    expect(r.stdout).toContain(`mr_td: ${tdx!.expected.quote.mrtd}`);
  });

  test("hex and base64 on stdin give the same JSON", () => {
    const bin = readFileSync(file);
    const hex = runCli(["decode", "--json", "-"], bin.toString("hex"));
    const b64 = runCli(["decode", "--json", "-"], bin.toString("base64"));
    expect(hex.status).toBe(0);
    const a = JSON.parse(hex.stdout);
    const b = JSON.parse(b64.stdout);
    expect(a.encoding).toBe("hex");
    expect(b.encoding).toBe("base64");
    delete a.encoding;
    delete b.encoding;
    expect(a).toEqual(b);
    expect(a.body.mr_td).toBe(tdx!.expected.quote.mrtd);
    expect(a.body.td_attributes.flags).toBeInstanceOf(Array);
    expect(a.trailing_bytes).toBe(tdx!.expected.quote.trailing_bytes);
  });

  test("a truncated quote prints code, offset and hint, exit 2", () => {
    const r = runCli(["decode", "-"], readFileSync(file).subarray(0, 700));
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("QUOTE_SIGNATURE_DATA_TRUNCATED");
    expect(r.stderr).toContain("offset 632");
    expect(r.stderr).toMatch(/hint: /);
  });

  test("--json error output", () => {
    const r = runCli(["decode", "--json", "-"], readFileSync(file).subarray(0, 700));
    expect(r.status).toBe(2);
    const j = JSON.parse(r.stdout);
    expect(j.error.code).toBe("QUOTE_SIGNATURE_DATA_TRUNCATED");
    expect(j.error.offset).toBe(632);
  });
});

test("unknown command is a usage error (exit 2)", () => {
  expect(runCli(["no-such-command"]).status).toBe(2);
});

test("help exits 0", () => {
  const r = runCli(["--help"]);
  expect(r.status).toBe(0);
  expect(r.stdout).toContain("decode");
});

test("output piped into a reader that stops early (`| head`) ends quietly, not with an EPIPE crash", async () => {
  const child = spawn(process.execPath, [cliPath, "verify", "--help"], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => {
    stderr += String(d);
  });
  // Close our end of the pipe before the CLI writes, as a `head` that already has what it needs does.
  child.stdout.destroy();
  const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
  expect(stderr).not.toMatch(/EPIPE|Unhandled/);
  expect(code).toBe(0);
});
