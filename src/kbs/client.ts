import type { KeyObject } from "node:crypto";
import type { JWK } from "jose";
import { newKeyPair } from "../crypto/keygen.js";
import { isErrorCode } from "../error-registry.js";
import { TdxError } from "../errors.js";
import { type AzTdxVtpmEvidenceSource, azAttestationMessage, isAzTdxVtpmSource } from "./az-client.js";
import { runtimeDataDigest } from "./az-tdx-vtpm.js";
import { DEFAULT_RUNTIME_DATA_HASH, expectedReportData, type RuntimeDataHashAlgorithm } from "./binding.js";
import { decryptKbsResponse } from "./jwe.js";
import { KBS_PROTOCOL_VERSION } from "./protocol.js";

/** Something that can produce a TD quote over 64 bytes of REPORTDATA (a guest provider). */
export interface QuoteSource {
  getQuote(reportData: Uint8Array): Promise<{ quote: Uint8Array; ccEventlog?: Uint8Array }>;
}

/** The ephemeral TEE key pair of one attestation. */
export interface TeeKeyPair {
  privateKey: KeyObject;
  publicJwk: JWK;
}

/** A fresh key to receive the secret: EC P-256 with ECDH-ES+A256KW (the default) or RSA-3072 with RSA-OAEP-256. */
export function generateTeeKeyPair(type: "ec" | "rsa" = "ec"): TeeKeyPair {
  if (type === "rsa") {
    const { privateKey, publicKey } = newKeyPair({ type: "rsa", modulusLength: 3072 });
    const j = publicKey.export({ format: "jwk" });
    return { privateKey, publicJwk: { kty: "RSA", alg: "RSA-OAEP-256", n: j.n!, e: j.e! } };
  }
  const { privateKey, publicKey } = newKeyPair({ type: "ec", namedCurve: "P-256" });
  const j = publicKey.export({ format: "jwk" });
  return { privateKey, publicJwk: { kty: "EC", crv: "P-256", alg: "ECDH-ES+A256KW", x: j.x!, y: j.y! } };
}

export interface KbsClientOptions {
  /** Base URL of the broker, e.g. http://127.0.0.1:8080. */
  url: string;
  fetch?: typeof fetch;
  /** Offered runtime-data hash algorithms (default sha384, sha512). */
  hashAlgorithms?: RuntimeDataHashAlgorithm[];
  /** Request timeout in ms (default 30 s). */
  timeoutMs?: number;
}

/**
 * An RCAR 0.4.0 client with a one-cookie jar: auth -> attest -> resource. Each step is exposed so
 * tests (and tools) can drive the protocol one message at a time.
 */
export class KbsClient {
  readonly base: string;
  readonly #fetch: typeof fetch;
  readonly #hashes: RuntimeDataHashAlgorithm[];
  readonly #timeoutMs: number;
  cookie: string | undefined;

  constructor(opts: KbsClientOptions) {
    this.base = opts.url.replace(/\/+$/, "");
    this.#fetch = opts.fetch ?? fetch;
    this.#hashes = opts.hashAlgorithms ?? ["sha384", "sha512"];
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
  }

  async #call(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Response> {
    const h: Record<string, string> = { accept: "application/json", ...headers };
    if (this.cookie) h.cookie = this.cookie;
    if (body !== undefined) h["content-type"] = "application/json";
    let res: Response;
    try {
      res = await this.#fetch(`${this.base}${path}`, {
        method,
        headers: h,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (e) {
      throw new TdxError(
        "KBS_UNREACHABLE",
        `cannot reach the key broker at ${this.base}: ${(e as Error).message}`,
        {
          cause: e,
          hint: "check --kbs URL and that the broker runs (tdx-attest serve)",
        },
      );
    }
    const setCookie = res.headers.get("set-cookie");
    const m = setCookie ? /kbs-session-id=([^;,\s]+)/.exec(setCookie) : null;
    if (m) this.cookie = `kbs-session-id=${m[1]}`;
    if (!res.ok) throw await problemError(res);
    return res;
  }

  /** POST /kbs/v0/auth: the challenge nonce and the hash algorithm the broker selected. */
  async auth(tee = "tdx"): Promise<{ nonce: string; hashAlgorithm: RuntimeDataHashAlgorithm; raw: unknown }> {
    const res = await this.#call("POST", "/kbs/v0/auth", {
      version: KBS_PROTOCOL_VERSION,
      tee,
      "extra-params": { "supported-hash-algorithms": this.#hashes },
    });
    const challenge = (await res.json()) as { nonce?: unknown; "extra-params"?: unknown };
    if (typeof challenge.nonce !== "string")
      throw new TdxError("KBS_RESPONSE_INVALID", "the challenge has no nonce", { hint: "is the URL a KBS?" });
    const extra = challenge["extra-params"];
    const selected =
      extra && typeof extra === "object"
        ? (extra as Record<string, unknown>)["selected-hash-algorithm"]
        : undefined;
    const hashAlgorithm = (
      typeof selected === "string" ? selected.toLowerCase() : DEFAULT_RUNTIME_DATA_HASH
    ) as RuntimeDataHashAlgorithm;
    if (!["sha256", "sha384", "sha512"].includes(hashAlgorithm))
      throw new TdxError("KBS_RESPONSE_INVALID", `the broker selected an unknown hash ${hashAlgorithm}`, {
        hint: "use a broker that speaks KBS protocol 0.4.0",
      });
    return { nonce: challenge.nonce, hashAlgorithm, raw: challenge };
  }

  /** POST /kbs/v0/attest with a ready Attestation message; returns the token. */
  async attestRaw(attestation: unknown): Promise<string> {
    const res = await this.#call("POST", "/kbs/v0/attest", attestation);
    const out = (await res.json()) as { token?: unknown };
    if (typeof out.token !== "string")
      throw new TdxError("KBS_RESPONSE_INVALID", "the attest response has no token", {
        hint: "is the URL a KBS?",
      });
    return out.token;
  }

  /** GET /kbs/v0/resource/PATH: the JWE (not yet decrypted). */
  async resourceRaw(path: string, token?: string): Promise<unknown> {
    const res = await this.#call(
      "GET",
      `/kbs/v0/resource/${path}`,
      undefined,
      token ? { authorization: `Bearer ${token}` } : {},
    );
    return res.json();
  }

  /**
   * The whole flow: key, challenge, REPORTDATA binding, quote, attest, fetch, decrypt. On Azure (an
   * az-tdx-vtpm source) the challenge is asked with tee az-tdx-vtpm and the raw runtime-data digest
   * (unpadded, as guest-components' client hands it to its attester) is the vTPM quote's nonce.
   */
  async getResource(
    path: string,
    source: QuoteSource | AzTdxVtpmEvidenceSource,
    opts: { keyType?: "ec" | "rsa"; initData?: string } = {},
  ): Promise<{ secret: Uint8Array; token: string }> {
    const key = generateTeeKeyPair(opts.keyType);
    const { nonce, hashAlgorithm } = await this.auth(isAzTdxVtpmSource(source) ? source.tee : "tdx");
    if (isAzTdxVtpmSource(source)) {
      const evidence = await source.getAzTdxVtpmEvidence(
        runtimeDataDigest(nonce, key.publicJwk, "", hashAlgorithm),
      );
      const token = await this.attestRaw(azAttestationMessage(nonce, key.publicJwk, evidence, opts.initData));
      return { secret: await decryptKbsResponse(await this.resourceRaw(path), key.privateKey), token };
    }
    const reportData = expectedReportData(nonce, key.publicJwk, "", hashAlgorithm);
    const { quote, ccEventlog } = await source.getQuote(reportData);
    const token = await this.attestRaw(
      attestationMessage(nonce, key.publicJwk, quote, ccEventlog, opts.initData),
    );
    const jwe = await this.resourceRaw(path);
    const secret = await decryptKbsResponse(jwe, key.privateKey);
    return { secret, token };
  }
}

/**
 * The RCAR 0.4.0 Attestation message for TDX evidence; with `initData` (the TOML text the TD was
 * launched with) it carries `init-data: {format: "toml", body}` as guest-components' client does.
 */
export function attestationMessage(
  nonce: string,
  teePubkey: unknown,
  quote: Uint8Array,
  ccEventlog?: Uint8Array,
  initData?: string,
) {
  const primary: Record<string, string> = { quote: Buffer.from(quote).toString("base64") };
  if (ccEventlog) primary.cc_eventlog = Buffer.from(ccEventlog).toString("base64");
  return {
    ...(initData !== undefined ? { "init-data": { format: "toml", body: initData } } : {}),
    "runtime-data": { nonce, "tee-pubkey": teePubkey },
    "tee-evidence": { primary_evidence: primary, additional_evidence: "" },
  };
}

/**
 * Turn a problem+json answer into a TdxError with the broker's code, detail, field, offset, hint and extras:
 * the failure keeps the shape it was thrown with. A code this version does not declare (Trustee's KBS, a
 * newer broker, no problem document) is KBS_HTTP_ERROR with the broker's code in `data.code`.
 */
async function problemError(res: Response): Promise<TdxError> {
  const text = await res.text();
  let p: Record<string, unknown> = {};
  try {
    p = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON: keep the text
  }
  const code = isErrorCode(p.code) ? p.code : "KBS_HTTP_ERROR";
  const detail = typeof p.detail === "string" ? p.detail : text.slice(0, 300) || res.statusText;
  const data: Record<string, unknown> = { status: res.status };
  const own =
    code === p.code ? ["code", "detail", "hint", "title", "field", "offset"] : ["detail", "hint", "title"];
  for (const [k, v] of Object.entries(p)) if (!own.includes(k)) data[k] = v;
  return new TdxError(code, `the key broker refused (${res.status}): ${detail}`, {
    ...(code === p.code && typeof p.field === "string" ? { field: p.field } : {}),
    ...(code === p.code && typeof p.offset === "number" ? { offset: p.offset } : {}),
    ...(typeof p.hint === "string" ? { hint: p.hint } : { hint: "see the broker's log for this request" }),
    data,
  });
}
