/**
 * The packages only the servers and the stores use (fastify, prom-client, better-sqlite3, pg, koffi) are
 * optional peer dependencies: `npm install tdx-attest` does not install them, so a user who parses and
 * verifies quotes gets no native module and loads nothing of the server. They load here, on first use,
 * resolved from where tdx-attest is installed; a missing one is a DEPENDENCY_MISSING error that names it.
 */
import { createRequire } from "node:module";
import { TdxError } from "./errors.js";

const require = createRequire(import.meta.url);

/** The optional packages and what needs each (the error says what the user was trying to do). */
export const OPTIONAL_PACKAGES = {
  fastify: "the HTTP servers (serve, pcs serve, explorer serve)",
  "prom-client": "the key broker's metrics",
  "better-sqlite3": "the key broker's SQLite store",
  pg: "the key broker's PostgreSQL store",
  koffi: "/dev/tdx_guest ioctls and vsock",
} as const;

export type OptionalPackage = keyof typeof OPTIONAL_PACKAGES;

/** Whether `name` resolves from here (a package whose `exports` has no `require` entry still counts). */
export function isInstalled(name: string): boolean {
  try {
    require.resolve(name);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ERR_PACKAGE_PATH_NOT_EXPORTED";
  }
}

/** The error for missing packages: names each, what needs it, and the command that installs them. */
export function dependencyMissing(names: string[], needed: string): TdxError {
  const list = names.join(", ");
  return new TdxError(
    "DEPENDENCY_MISSING",
    `missing package${names.length === 1 ? "" : "s"} ${list} (needed by ${needed})`,
    {
      field: names[0],
      hint: `npm install ${names.join(" ")} (optional peer dependencies of tdx-attest: only the servers and stores need them)`,
      data: { packages: names },
    },
  );
}

/** Throws DEPENDENCY_MISSING naming every one of `names` that is not installed. */
export function requirePackages(names: string[], needed: string): void {
  const missing = names.filter((n) => !isInstalled(n));
  if (missing.length > 0) throw dependencyMissing(missing, needed);
}

/**
 * Load a CommonJS package synchronously on first use (better-sqlite3, pg): constructors stay synchronous
 * and nobody pays for the package before it is needed.
 */
export function requireOptional<T>(name: OptionalPackage, needed: string = OPTIONAL_PACKAGES[name]): T {
  try {
    return require(name) as T;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // Only the package itself being absent is "missing"; a broken install (a native build that failed) says so.
    if (code === "MODULE_NOT_FOUND" && !isInstalled(name)) throw dependencyMissing([name], needed);
    throw new TdxError(
      "DEPENDENCY_BROKEN",
      `the package ${name} is installed but cannot load: ${(e as Error).message}`,
      {
        field: name,
        cause: e,
        hint: `reinstall it (npm rebuild ${name}, or npm install ${name}) for this Node version and platform`,
      },
    );
  }
}

/**
 * Import a module whose graph needs optional packages (a server's module), turning a missing package into
 * DEPENDENCY_MISSING. `packages` are checked first, so the error lists all that are missing at once.
 */
export async function importWith<T>(packages: string[], needed: string, load: () => Promise<T>): Promise<T> {
  requirePackages(packages, needed);
  try {
    return await load();
  } catch (e) {
    // A package not in `packages` but on the module's graph: name it from Node's message.
    const m = /Cannot find (?:package|module) '([^']+)'/.exec((e as Error).message ?? "");
    if ((e as NodeJS.ErrnoException).code === "ERR_MODULE_NOT_FOUND" && m?.[1] && !m[1].startsWith("/"))
      throw dependencyMissing([packageNameOf(m[1])], needed);
    throw e;
  }
}

/** `@scope/name/sub` -> `@scope/name`, `name/sub` -> `name`. */
function packageNameOf(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : (parts[0] as string);
}
