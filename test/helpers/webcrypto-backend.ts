import { setCryptoBackend, webCryptoBackend } from "../../src/crypto/backend.js";

/**
 * Setup file of the "webcrypto" test project (vitest.config.ts): the verify suites run a second time with
 * the backend browsers, Deno and edge workers get (WebCrypto for verifyAsync, plain JavaScript for verify).
 */
setCryptoBackend(webCryptoBackend);
(globalThis as { __TDX_EXPECTED_BACKEND?: string }).__TDX_EXPECTED_BACKEND = "webcrypto";
