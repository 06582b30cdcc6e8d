import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { TdxError } from "../../src/errors.js";
import { readConfigFile } from "../../src/server/config.js";

describe("broker configuration file", () => {
  const dir = mkdtempSync(join(tmpdir(), "kbs-config-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const read = (doc: unknown) => {
    const f = join(dir, `c${Math.random()}.json`);
    writeFileSync(f, JSON.stringify(doc));
    try {
      return readConfigFile(f);
    } catch (e) {
      return e as TdxError;
    }
  };

  it("refuses unknown and mistyped keys inside objects (a typo must not silently weaken a limit)", () => {
    const typo = read({ collateral: { urls: ["https://pccs"], maxRequestPerMinute: 10 } }) as TdxError;
    expect(typo.code).toBe("KBS_CONFIG_INVALID");
    expect(typo.field).toBe("collateral.maxRequestPerMinute");
    expect(typo.hint).toMatch(/maxRequestsPerMinute/);
    expect((read({ database: { statementTimeoutMs: "5s" } }) as TdxError).field).toBe(
      "database.statementTimeoutMs",
    );
    expect((read({ collateral: { redirects: "all" } }) as TdxError).message).toMatch(/none, same-origin/);
    const ok = read({
      collateral: { urls: ["https://pccs"], redirects: "same-origin", backoffSeconds: 5 },
      database: { connectTimeoutMs: 1000, poolSize: 4 },
      explorer: false,
      metrics: true,
    });
    expect(ok).not.toBeInstanceOf(TdxError);
  });
});
