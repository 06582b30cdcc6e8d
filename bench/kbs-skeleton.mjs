// bench/kbs-skeleton: the lower bound of a key broker in Node speaking this protocol (issue 13), run by
// `node bench/kbs.mjs --broker skeleton|skeleton-fsync`, never by users. It answers the three requests of
// an attestation (auth, attest, resource) on bare node:http with sessions in a Map and nothing but the
// cryptography the bench's floor counts: the quote's ECDSA signature under its JWK-imported attestation
// key, the REPORTDATA binding to the nonce and tee-pubkey, an ES256 token, that token verified at
// /resource, the secret wrapped with the broker's own ECDH-ES+A256KW code. No DCAP beyond the quote's
// signature (a real broker caches the rest per platform), no policy, no claims, no log, no metrics.
// SKELETON_FSYNC=1 adds the cheapest durable write there is: the attestation's and the release's records
// appended to a file and acknowledged after an fdatasync covering everything written in the same turn of
// the event loop (a group commit without a database).
// It prints "listening on URL" on stderr, as `tdx-attest serve` does.
import { createPublicKey, randomBytes, sign, verify } from "node:crypto";
import { fdatasync, openSync, writeSync } from "node:fs";
import http from "node:http";
import { join } from "node:path";
import { newKeyPair } from "../dist/crypto/keygen.js";
import { expectedReportData } from "../dist/kbs/binding.js";
import { encryptToTeeKey } from "../dist/kbs/jwe.js";

const tokenKey = newKeyPair({ type: "ec", namedCurve: "P-256" });
const secret = randomBytes(64);
/** Session id -> { nonce, teePubkey?, token?, used } */
const sessions = new Map();
// Filler so the token is the size of the real broker's (about 3 KB of claims).
const filler = randomBytes(1000).toString("hex");
const tokenHeader = Buffer.from(JSON.stringify({ alg: "ES256", typ: "JWT" })).toString("base64url");

const logFd = process.env.SKELETON_FSYNC === "1" ? openSync(join(process.cwd(), "skeleton.log"), "a") : -1;
let pending = [];
/** Resolves once the line is on disk (SKELETON_FSYNC=1), at once otherwise. */
function durably(record) {
  if (logFd < 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    if (pending.length === 0)
      setImmediate(() => {
        const group = pending;
        pending = [];
        writeSync(logFd, group.map((p) => p.line).join(""));
        fdatasync(logFd, (err) => {
          for (const p of group) err ? p.reject(err) : p.resolve();
        });
      });
    pending.push({ line: `${JSON.stringify(record)}\n`, resolve, reject });
  });
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function answer(res, status, value, headers = {}) {
  const text = JSON.stringify(value);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

const sessionOf = (req) => {
  const id = /kbs-session-id=([^;]+)/.exec(req.headers.cookie ?? "")?.[1];
  return id === undefined ? undefined : { id, session: sessions.get(id) };
};

async function auth(req, res) {
  const body = JSON.parse(await readBody(req));
  if (body.tee !== "tdx") return answer(res, 400, { error: "tee" });
  const id = randomBytes(16).toString("hex");
  const nonce = randomBytes(32).toString("base64");
  sessions.set(id, { nonce, used: false });
  answer(
    res,
    200,
    { nonce, "extra-params": { "selected-hash-algorithm": "sha384" } },
    { "set-cookie": `kbs-session-id=${id}; Path=/kbs; HttpOnly; SameSite=Strict; Max-Age=300` },
  );
}

async function attest(req, res) {
  const body = JSON.parse(await readBody(req));
  const s = sessionOf(req)?.session;
  if (!s || s.used) return answer(res, 401, { error: "session" });
  s.used = true;
  const quote = Buffer.from(body["tee-evidence"].primary_evidence.quote, "base64");
  // Quote v4: header (48) and TD report body (584) signed; after the 4-byte length, the signature (64)
  // and the attestation key (64).
  if (quote.readUInt16LE(0) !== 4 || quote.length < 764) return answer(res, 400, { error: "quote" });
  const ak = quote.subarray(700, 764);
  const key = createPublicKey({
    key: {
      kty: "EC",
      crv: "P-256",
      x: ak.subarray(0, 32).toString("base64url"),
      y: ak.subarray(32).toString("base64url"),
    },
    format: "jwk",
  });
  const signed = quote.subarray(0, 632);
  if (!verify("sha256", signed, { key, dsaEncoding: "ieee-p1363" }, quote.subarray(636, 700)))
    return answer(res, 403, { error: "signature" });
  const teePubkey = body["runtime-data"]["tee-pubkey"];
  const reportData = expectedReportData(s.nonce, teePubkey, "", "sha384");
  if (!Buffer.from(reportData).equals(quote.subarray(568, 632)))
    return answer(res, 403, { error: "binding" });
  const claims = {
    iss: "skeleton",
    exp: Math.floor(Date.now() / 1000) + 300,
    mr_td: quote.subarray(184, 232).toString("hex"),
    "tee-pubkey": teePubkey,
    filler,
  };
  const input = `${tokenHeader}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}`;
  const signature = sign("sha256", Buffer.from(input), {
    key: tokenKey.privateKey,
    dsaEncoding: "ieee-p1363",
  });
  s.token = `${input}.${signature.toString("base64url")}`;
  await durably({ at: Date.now(), event: "attest", nonce: s.nonce, mr_td: claims.mr_td });
  answer(res, 200, { token: s.token });
}

async function resource(req, res) {
  const found = sessionOf(req);
  const token = found?.session?.token;
  if (!token) return answer(res, 401, { error: "session" });
  const [header, payload, signature] = token.split(".");
  const ok = verify(
    "sha256",
    Buffer.from(`${header}.${payload}`),
    { key: tokenKey.publicKey, dsaEncoding: "ieee-p1363" },
    Buffer.from(signature, "base64url"),
  );
  if (!ok) return answer(res, 401, { error: "token" });
  const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
  const jwe = await encryptToTeeKey(secret, claims["tee-pubkey"]);
  sessions.delete(found.id);
  await durably({ at: Date.now(), event: "release", resource: req.url });
  answer(res, 200, jwe);
}

const server = http.createServer((req, res) => {
  const route =
    req.method === "POST" && req.url === "/kbs/v0/auth"
      ? auth
      : req.method === "POST" && req.url === "/kbs/v0/attest"
        ? attest
        : req.method === "GET" && req.url.startsWith("/kbs/v0/resource/")
          ? resource
          : undefined;
  if (!route) return answer(res, 404, { error: "route" });
  route(req, res).catch((e) => {
    console.error(e);
    if (!res.headersSent) answer(res, 500, { error: String(e) });
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => console.error(`listening on http://127.0.0.1:${server.address().port}`));
process.on("SIGTERM", () => process.exit(0));
