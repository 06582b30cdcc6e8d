import { describe, expect, it } from "vitest";
import { CHROMIUM_CANDIDATES, decideBrowser } from "../helpers/browser.js";

const none = () => false;
const only = (p: string) => (q: string) => q === p;

describe("which browser the browser tests use", () => {
  it("skips with how to enable them when no browser is installed, outside CI", () => {
    const d = decideBrowser({}, none);
    expect(d.kind).toBe("skip");
    expect(d.kind !== "run" && d.reason).toMatch(/apt-get install chromium.*TDX_CHROMIUM/);
  });

  it("fails under CI=true (or TDX_REQUIRE_BROWSER=1) when no browser is installed", () => {
    expect(decideBrowser({ CI: "true" }, none).kind).toBe("fail");
    expect(decideBrowser({ TDX_REQUIRE_BROWSER: "1" }, none).kind).toBe("fail");
  });

  it("finds a browser at any usual path, Debian's first", () => {
    for (const p of CHROMIUM_CANDIDATES) expect(decideBrowser({}, only(p))).toEqual({ kind: "run", path: p });
    expect(decideBrowser({}, () => true)).toEqual({ kind: "run", path: "/usr/bin/chromium" });
  });

  it("uses TDX_CHROMIUM, and fails (never skips) when it names nothing", () => {
    expect(decideBrowser({ TDX_CHROMIUM: "/opt/c/chrome" }, only("/opt/c/chrome"))).toEqual({
      kind: "run",
      path: "/opt/c/chrome",
    });
    expect(decideBrowser({ TDX_CHROMIUM: "/opt/c/chrome" }, none).kind).toBe("fail");
  });
});
