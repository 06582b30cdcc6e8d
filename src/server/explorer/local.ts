import { hexOf } from "../../encoding.js";
import { type ErrorCode, isTdxError } from "../../errors.js";
import { Verifier } from "../../verify/index.js";
import {
  decodedQuote,
  ErrorWithDecode,
  parseOrExplain,
  quoteBytes,
  quoteFromBody,
  UnparsableQuote,
  verifyForExplorer,
} from "./core.js";

/**
 * The explorer's API inside the page (a static build: `tdx-attest explorer build`): the same answers as the
 * server's POST api/decode and api/verify, computed here with the runtime-neutral verifier (WebCrypto). No
 * `node:` import on this graph; the build copies it with the page.
 */

const verifier = new Verifier();

function failure(e: unknown): Record<string, unknown> {
  if (e instanceof UnparsableQuote) return { ok: false, error: e.error.toJSON(), hex: hexOf(e.bytes) };
  if (e instanceof ErrorWithDecode) return { ok: false, error: e.error.toJSON(), decode: e.decode };
  if (isTdxError(e)) return { ok: false, error: e.toJSON() };
  const internal: ErrorCode = "INTERNAL";
  return {
    ok: false,
    error: {
      code: internal,
      message: e instanceof Error ? e.message : String(e),
      hint: "this is a bug in tdx-attest; please report it with the input",
    },
  };
}

/** Answer `path` ("api/decode" or "api/verify") for a JSON request body, as the server would. */
export async function localApi(path: string, body: string): Promise<unknown> {
  try {
    const req = JSON.parse(body) as Record<string, unknown>;
    if (path === "api/decode") {
      const { bytes, encoding } = quoteBytes(quoteFromBody(req));
      return decodedQuote(parseOrExplain(bytes), encoding);
    }
    return await verifyForExplorer(
      { quote: quoteFromBody(req), collateral: req.collateral, policy: req.policy, at: req.at },
      { verifier, clock: () => Date.now(), async: true },
    );
  } catch (e) {
    return failure(e);
  }
}

/** Which crypto the page verifies with ("webcrypto" in a browser). */
export const cryptoBackendName = verifier.cryptoBackend;
