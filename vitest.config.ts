import { defineConfig } from "vitest/config";

/** The suites that judge verdicts run twice: node:crypto, then the WebCrypto / plain-JavaScript backend. */
const BOTH_BACKENDS = ["test/verify/**/*.test.ts", "test/crypto/backend.test.ts"];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    projects: [
      { extends: true, test: { name: "node", include: ["test/**/*.test.ts"] } },
      {
        extends: true,
        test: {
          name: "webcrypto",
          include: BOTH_BACKENDS,
          setupFiles: ["test/helpers/webcrypto-backend.ts"],
        },
      },
    ],
  },
});
