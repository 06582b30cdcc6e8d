import { existsSync } from "node:fs";

/**
 * Which Chromium the browser tests drive (playwright-core, never a browser download of its own).
 * TDX_CHROMIUM names one; else the usual install paths are tried (Debian's chromium first, which
 * .ci/chromium.sh installs). Without a browser the tests skip with one loud line outside CI, and fail
 * under CI=true (or TDX_REQUIRE_BROWSER=1), so a CI run that forgot to install it is red.
 */
export const CHROMIUM_CANDIDATES = [
  "/usr/bin/chromium",
  "/usr/bin/chromium-browser",
  "/usr/bin/google-chrome-stable",
  "/usr/bin/google-chrome",
  "/snap/bin/chromium",
];

export const HOW_TO_ENABLE_BROWSER_TESTS =
  "install Chromium (Debian/Ubuntu: `sudo apt-get install chromium`, or `bash .ci/chromium.sh`) or set TDX_CHROMIUM=/path/to/chrome";

export type BrowserDecision =
  | { kind: "run"; path: string }
  | { kind: "skip"; reason: string }
  | { kind: "fail"; reason: string };

export function decideBrowser(
  env: Record<string, string | undefined>,
  exists: (path: string) => boolean = existsSync,
): BrowserDecision {
  const required = env.CI === "true" || env.TDX_REQUIRE_BROWSER === "1";
  const named = env.TDX_CHROMIUM;
  if (named) {
    if (exists(named)) return { kind: "run", path: named };
    // A browser asked for by name that is not there is a mistake, in CI or not.
    return { kind: "fail", reason: `TDX_CHROMIUM=${named} does not exist` };
  }
  const found = CHROMIUM_CANDIDATES.find((p) => exists(p));
  if (found) return { kind: "run", path: found };
  const reason = `no Chromium found (tried ${CHROMIUM_CANDIDATES.join(", ")}): ${HOW_TO_ENABLE_BROWSER_TESTS}`;
  return required ? { kind: "fail", reason } : { kind: "skip", reason };
}

let announced = false;

/** The decision for this run; a skip is announced once, loudly, on stderr. */
export function browserForTests(): BrowserDecision {
  const d = decideBrowser(process.env);
  if (d.kind === "skip" && !announced) {
    announced = true;
    process.stderr.write(
      `\n*** browser tests SKIPPED: ${d.reason} (under CI=true they fail instead) ***\n\n`,
    );
  }
  return d;
}

/** Flags for headless Chromium on a machine with no outside network (see .ci/chromium.sh). */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
