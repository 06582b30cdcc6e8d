import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { parseExplorerListen } from "../../src/cli/commands/explorer.js";
import { main } from "../../src/cli/main.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  vi.restoreAllMocks();
});

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), "tdx-explorer-build-"));
  dirs.push(d);
  return d;
}

describe("tdx-attest explorer build", () => {
  it("writes the page and its assets; --api is written into the page", async () => {
    const out = join(tmp(), "site");
    const stdout = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    expect(
      await main(["node", "tdx-attest", "explorer", "build", "--out", out, "--api", "http://127.0.0.1:9999"]),
    ).toBe(0);
    stdout.mockRestore();
    for (const f of ["index.html", "explorer/app.js", "explorer/style.css"])
      expect(existsSync(join(out, f))).toBe(true);
    const html = readFileSync(join(out, "index.html"), "utf8");
    expect(html).toContain('<meta name="tdx-attest-api" content="http://127.0.0.1:9999">');
    expect(html).toContain('src="explorer/app.js"');
  });

  it("refuses an --api that is not an http(s) URL", async () => {
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const code = await main([
      "node",
      "tdx-attest",
      "explorer",
      "build",
      "--out",
      tmp(),
      "--api",
      'javascript:alert("x")',
    ]);
    const printed = stderr.mock.calls.map((c) => String(c[0])).join("");
    stderr.mockRestore();
    expect(code).toBe(2);
    expect(printed).toContain("EXPLORER_BAD_API_URL");
  });
});

describe("explorer serve --listen", () => {
  it("reads HOST:PORT, [IPv6]:PORT and a bare port", () => {
    expect(parseExplorerListen("127.0.0.1:8088")).toEqual({ host: "127.0.0.1", port: 8088 });
    expect(parseExplorerListen("[::1]:9000")).toEqual({ host: "::1", port: 9000 });
    expect(parseExplorerListen("0")).toEqual({ host: "127.0.0.1", port: 0 });
    expect(() => parseExplorerListen("localhost")).toThrow(/HOST:PORT/);
    expect(() => parseExplorerListen("127.0.0.1:99999")).toThrow(/HOST:PORT/);
  });
});
