/**
 * `tdx-attest/verify` under the `node` export condition: the same module, with node:crypto installed as
 * the default crypto backend on every Node 20 (src/crypto/node.ts). Browsers, Deno, Bun and edge workers
 * resolve index.js (the `default` condition), whose graph has no `node:` import.
 */
import "../crypto/node.js";

export * from "./index.js";
