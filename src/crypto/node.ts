import * as nodeCrypto from "node:crypto";
import { nodeCryptoBackend, setCryptoBackend } from "./backend.js";

/**
 * Loaded by the package's `node` export condition (dist/verify/node.js and friends): installs node:crypto
 * as the default backend on every Node 20 (the runtime lookup in backend.ts needs Node >= 20.16).
 */
export const NODE_CRYPTO_BACKEND = nodeCryptoBackend(nodeCrypto);
setCryptoBackend(NODE_CRYPTO_BACKEND);
