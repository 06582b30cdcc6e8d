import type { ErrorTable } from "./errors.js";

/** Error codes of the root modules (src/optional.ts: the optional peer packages of the servers and stores). */
export const PACKAGE_ERRORS = {
  DEPENDENCY_MISSING: {
    doc: "an optional peer package the servers or stores need (fastify, prom-client, better-sqlite3, pg, koffi) is not installed; the error names it and the npm install line",
  },
  DEPENDENCY_BROKEN: {
    doc: "an optional peer package is installed but cannot load (e.g. a native build for another Node version); reinstall or rebuild it",
  },
} as const satisfies ErrorTable;
