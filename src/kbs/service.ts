import { createPrivateKey, randomBytes, randomUUID } from "node:crypto";
import {
  type AttestedTdxEvidence,
  type AttestedTeeEvidence,
  AZ_TDX_VTPM_TEE,
  appraisalPolicyCache,
  appraiseEvidence,
  checkInitDataBinding,
  DEFAULT_ATTESTATION_POLICY_TEXT,
  type EvidenceVerifier,
  type InitData,
  PolicyCache,
  readInitData,
  SUPPORTED_TEES,
  TEE_DESCRIPTIONS,
  verifierSupports,
  verifyTeeEvidence,
} from "../attest/index.js";
import { httpStatusOf } from "../error-registry.js";
import { type ErrorCode, TdxError } from "../errors.js";
import { readPolicy } from "../policy/index.js";
import { addAzTdxVtpmClaims } from "./az-claims.js";
import { checkAzTdxVtpmOutcome, readSessionEvidence } from "./az-tdx-vtpm.js";
import {
  checkReportDataBinding,
  expectedReportData,
  negotiateHashAlgorithm,
  type RuntimeDataHashAlgorithm,
} from "./binding.js";
import {
  buildTokenClaims,
  claimSetOf,
  claimValue,
  mergeClaims,
  splitClaims,
  teePubkeyFromClaims,
} from "./claims.js";
import type { PolicyDenial } from "./evidence.js";
import { checkTeePubkey, encryptToTeeKey, type KbsResponse } from "./jwe.js";
import type { KeyEncryptionKey } from "./kek.js";
import { KBS_PROTOCOL_VERSION } from "./protocol.js";
import { DEFAULT_RESOURCE_POLICY, evaluateResourcePolicy, parseResourcePolicy } from "./resource-policy.js";
import type {
  AuditEntry,
  AuditRecord,
  KbsStore,
  LimitCount,
  LimitsAt,
  PolicyKind,
  PolicyRecord,
  SessionRecord,
} from "./store/index.js";
import { TokenSigner } from "./token.js";

export { KBS_PROTOCOL_VERSION };
export const DEFAULT_POLICY_ID = "default";

export interface KbsServiceOptions {
  store: KbsStore;
  kek: KeyEncryptionKey;
  verifier: EvidenceVerifier;
  /** Seconds between /auth and /attest (Trustee: 5 minutes). */
  sessionTtlSeconds?: number;
  /** Lifetime of attestation tokens and of the attested session. */
  tokenTtlSeconds?: number;
  tokenIssuer?: string;
  /** The attestation policy applied at /attest. */
  attestationPolicyId?: string;
  /** Preferred runtime-data hash when the client offers several. */
  preferredHash?: RuntimeDataHashAlgorithm;
  /** Time source; tests pass a fake clock. */
  clock?: () => Date;
}

/** Who is asking, for the audit log and logs. */
export interface RequestContext {
  requestId?: string;
  actor?: string;
  /**
   * The request's limits, counted by its first write in the same statement (PostgreSQL: one round trip
   * fewer per request) or commit (SQLite), which happens only within them; `check` throws past one.
   */
  limits?: LimitsAt & { check: (counts: LimitCount[]) => void };
}

export interface AttestOutcome {
  token: string;
  sessionExpiresAt: Date;
  claims: Record<string, unknown>;
}

/** The denial error carrying every failed rule (rendered as problem+json `denials`). */
function denied(code: ErrorCode, what: string, policyId: string, denials: PolicyDenial[]): TdxError {
  const first = denials[0];
  const reason = first
    ? `rule ${first.rule}: expected ${JSON.stringify(first.expected)}, actual ${JSON.stringify(first.actual)}`
    : "no rule allowed it";
  return new TdxError(code, `${what} denied by policy ${policyId}: ${reason}`, {
    hint: "see `denials` for every failed rule; change the TD or the policy",
    data: { policyId, denials },
  });
}

/** Longest resource path segment and policy id; the HTTP layer uses the same limit for route parameters. */
export const MAX_SEGMENT_LENGTH = 128;
// Trustee's ResourceDesc (plugins/implementations/resource/backend.rs): [a-zA-Z0-9_-]+[a-zA-Z0-9_.-]*, so a
// segment may start with '_' or '-' but never with '.' ("." and ".." stay impossible); at most 128 here.
const RESOURCE_SEGMENT = new RegExp(`^[A-Za-z0-9_-][A-Za-z0-9._-]{0,${MAX_SEGMENT_LENGTH - 1}}$`);
const POLICY_ID = new RegExp(`^[A-Za-z0-9][A-Za-z0-9._-]{0,${MAX_SEGMENT_LENGTH - 1}}$`);

/** Check a repository/type/tag path; returns it normalized. */
export function checkResourcePath(path: string): string {
  const parts = path.split("/");
  if (parts.length !== 3 || !parts.every((p) => RESOURCE_SEGMENT.test(p)))
    throw new TdxError(
      "KBS_RESOURCE_PATH_INVALID",
      `resource path ${JSON.stringify(path)} is not REPOSITORY/TYPE/TAG`,
      {
        field: "path",
        hint: `use three segments of 1 to ${MAX_SEGMENT_LENGTH} letters, digits, '.', '_' or '-', e.g. default/disk/key`,
      },
    );
  return parts.join("/");
}

/**
 * The key broker: the RCAR protocol (auth, attest, resource) and the admin operations, over a store,
 * an evidence verifier and the policies. HTTP lives in src/server; this class has no I/O of its own
 * besides the store.
 */
export class KbsService {
  readonly store: KbsStore;
  readonly verifier: EvidenceVerifier;
  readonly sessionTtlSeconds: number;
  readonly attestationPolicyId: string;
  readonly #kek: KeyEncryptionKey;
  readonly #signer: TokenSigner;
  readonly #clock: () => Date;
  readonly #preferredHash: RuntimeDataHashAlgorithm | undefined;
  /** Attestation and resource policies parsed once per version. */
  readonly #attestationPolicies = appraisalPolicyCache();
  readonly #resourcePolicies = new PolicyCache(parseResourcePolicy);

  private constructor(opts: KbsServiceOptions, signer: TokenSigner) {
    this.store = opts.store;
    this.verifier = opts.verifier;
    this.sessionTtlSeconds = opts.sessionTtlSeconds ?? 300;
    this.attestationPolicyId = opts.attestationPolicyId ?? DEFAULT_POLICY_ID;
    this.#kek = opts.kek;
    this.#signer = signer;
    this.#clock = opts.clock ?? (() => new Date());
    this.#preferredHash = opts.preferredHash;
  }

  /**
   * Open the service: load (or create, once for all brokers sharing the store) the token signing
   * key sealed under the KEK, and seed the default policies when absent.
   */
  static async create(opts: KbsServiceOptions): Promise<KbsService> {
    const candidate = opts.kek.seal(Buffer.from(TokenSigner.generatePrivateKeyPem()), "token-signing-key");
    const stored = await opts.store.getOrInitMeta("token_signing_key", sealedToText(candidate));
    const pem = opts.kek.open(sealedFromText(stored), "token-signing-key").toString("utf8");
    const signer = new TokenSigner(createPrivateKey(pem), {
      ttlSeconds: opts.tokenTtlSeconds ?? 300,
      ...(opts.tokenIssuer ? { issuer: opts.tokenIssuer } : {}),
    });
    const svc = new KbsService(opts, signer);
    const now = svc.#clock().getTime();
    if (!(await opts.store.getPolicy("attestation", DEFAULT_POLICY_ID)))
      await opts.store.putPolicy({
        kind: "attestation",
        id: DEFAULT_POLICY_ID,
        body: DEFAULT_ATTESTATION_POLICY_TEXT,
        now,
      });
    if (!(await opts.store.getPolicy("resource", DEFAULT_POLICY_ID)))
      await opts.store.putPolicy({
        kind: "resource",
        id: DEFAULT_POLICY_ID,
        body: `${JSON.stringify(DEFAULT_RESOURCE_POLICY, null, 2)}\n`,
        now,
      });
    return svc;
  }

  now(): Date {
    return this.#clock();
  }

  /** The public key tokens are signed with (for passport-mode relying parties). */
  tokenPublicJwk() {
    return this.#signer.publicJwk();
  }

  // ---- RCAR: auth --------------------------------------------------------------------------------

  async auth(body: unknown, ctx: RequestContext = {}) {
    let counted = false;
    try {
      return await this.#auth(body, ctx, () => {
        counted = true;
      });
    } catch (e) {
      // Refused before its write: the request still counts against its limits (past them, that is the answer).
      if (!counted) await this.#countAlone(ctx);
      throw e;
    }
  }

  /** A request refused before the write that counts its limits: counted by a write of its own; throws past one. */
  async #countAlone(ctx: RequestContext): Promise<void> {
    if (ctx.limits) ctx.limits.check(await this.store.hitRateLimits(ctx.limits.hits, ctx.limits.now));
  }

  async #auth(body: unknown, ctx: RequestContext, onCounted: () => void) {
    const req = asObject(body, "Request");
    if (typeof req.version !== "string")
      throw invalidRequest(
        "version",
        "Request.version is missing",
        `send "version": "${KBS_PROTOCOL_VERSION}"`,
      );
    // Trustee compares semver against "=0.4.0", which ignores build metadata ("0.4.0+build.1" matches).
    if (
      req.version.replace(/^(\d+\.\d+\.\d+)\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*$/, "$1") !== KBS_PROTOCOL_VERSION
    )
      throw new TdxError(
        "KBS_PROTOCOL_VERSION_MISMATCH",
        `KBS Client Protocol Version Mismatch: client speaks ${req.version}, this broker ${KBS_PROTOCOL_VERSION}`,
        { field: "version", hint: `use a client that speaks KBS protocol ${KBS_PROTOCOL_VERSION}` },
      );
    const tees = SUPPORTED_TEES.filter((t) => verifierSupports(this.verifier, t));
    const tee = tees.find((t) => t === req.tee);
    if (!tee)
      throw new TdxError("KBS_TEE_UNSUPPORTED", `tee ${JSON.stringify(req.tee)} is not supported`, {
        field: "tee",
        hint: `send "tee": ${tees.map((t) => `"${t}" (${TEE_DESCRIPTIONS[t]})`).join(" or ")}`,
      });
    const { algorithm, negotiated } = negotiateHashAlgorithm(req["extra-params"], this.#preferredHash);
    const now = this.now().getTime();
    const id = randomUUID();
    // 32 random bytes, standard base64 with padding (Trustee's make_nonce).
    const nonce = randomBytes(32).toString("base64");
    const expiresAt = now + this.sessionTtlSeconds * 1000;
    const created = await this.store.createSession(
      { id, nonce, tee, hashAlg: algorithm, createdAt: now, expiresAt },
      ctx.limits ? { limits: ctx.limits } : {},
    );
    onCounted();
    ctx.limits?.check(created.limits);
    if (!created.created) throw new Error("the session was not stored although every limit held");
    return {
      sessionId: id,
      expiresAt: new Date(expiresAt),
      // Trustee answers extra-params "" unless negotiation happened.
      challenge: { nonce, "extra-params": negotiated ? { "selected-hash-algorithm": algorithm } : "" },
    };
  }

  // ---- RCAR: attest ------------------------------------------------------------------------------

  async attest(
    sessionId: string | undefined,
    body: unknown,
    ctx: RequestContext = {},
  ): Promise<AttestOutcome> {
    const now = this.now();
    if (!sessionId) {
      await this.#countAlone(ctx);
      throw sessionMissing();
    }
    // One attempt per challenge: the nonce is consumed by the first /attest, whatever its outcome, so
    // a session cannot retry (and fill the audit log) without asking for a new challenge. Consumed
    // first, in one round trip with the request's limits; only a session that could not be consumed is
    // looked at again.
    const consumed = await this.store.consumeSession(sessionId, now.getTime(), {
      policy: { kind: "attestation", id: this.attestationPolicyId },
      ...(ctx.limits ? { limits: ctx.limits } : {}),
    });
    if (ctx.limits && consumed.limits) ctx.limits.check(consumed.limits);
    if (!consumed.consumed) {
      if (consumed.limited) throw new Error("the session was not consumed although every limit held");
      const s = checkSession(consumed.session, now);
      // A second /attest on an attested session returns that session's token, as Trustee does.
      if (s.state === "attested") return this.#sessionToken(s, now);
      // Already refused once (and audited then): count, do not write another row.
      await this.store.countRefusal(s.id);
      throw consumeError("replayed");
    }
    const session = consumed.session;
    let evidenceSha256: string | null = null;
    const audit = (verdict: "allowed" | "denied" | "error", reason: string | null, claims?: unknown) => {
      const entry: AuditEntry = {
        at: now.getTime(),
        event: "attest",
        sessionId: session.id,
        evidenceSha256,
        verdict,
        reason,
        requestId: ctx.requestId ?? null,
      };
      return claims
        ? this.store.appendAuditWithClaims(
            entry,
            claimSetOf(splitClaims(claims as Record<string, unknown>).shared),
          )
        : this.store.appendAudit(entry);
    };
    try {
      return await this.#attestOnce(session, consumed.policy, body, now, ctx, (sha) => {
        evidenceSha256 = sha;
      });
    } catch (e) {
      const err = e instanceof TdxError ? e : null;
      const status = err ? auditVerdictOf(err.code) : "error";
      await audit(
        status,
        err ? `${err.code}: ${err.message}${causeDetail(err)}` : String(e),
        (e as { auditClaims?: unknown }).auditClaims,
      );
      throw e;
    }
  }

  /** The session's one attempt: every refusal it throws is audited by the caller, once. */
  async #attestOnce(
    session: SessionRecord,
    /** The attestation policy as it was read with the session (one round trip on PostgreSQL). */
    policy: PolicyRecord | undefined,
    body: unknown,
    now: Date,
    ctx: RequestContext,
    setEvidence: (sha256: string) => void,
  ): Promise<AttestOutcome> {
    const att = asObject(body, "Attestation");
    const runtime = asObject(att["runtime-data"], "Attestation.runtime-data");
    if (typeof runtime.nonce !== "string")
      throw invalidRequest("runtime-data.nonce", "runtime-data.nonce is missing", "echo the challenge nonce");
    const teePubkey = runtime["tee-pubkey"];
    checkTeePubkey(teePubkey);
    const rawInitData = att["init-data"];
    const initData =
      rawInitData === undefined || rawInitData === null ? undefined : readInitData(rawInitData);
    const { evidence, additionalEvidence, sentSha256 } = readSessionEvidence(
      session,
      att["tee-evidence"],
      teePubkey,
      initData,
    );
    // Until the quote has parsed, the audit log names the evidence by the hash of the bytes sent.
    setEvidence(sentSha256);
    if (runtime.nonce !== session.nonce)
      throw new TdxError(
        "KBS_NONCE_MISMATCH",
        "runtime-data.nonce is not the nonce of this session's challenge (the challenge is now used up)",
        {
          field: "runtime-data.nonce",
          hint: "echo the nonce returned by /kbs/v0/auth on this same session; start again with POST /kbs/v0/auth",
        },
      );

    const hashAlg = session.hashAlg as RuntimeDataHashAlgorithm;
    let attested: AttestedTeeEvidence;
    try {
      attested = await verifyTeeEvidence(this.verifier, evidence, now);
    } catch (e) {
      throw evidenceError(e);
    }
    setEvidence(attested.evidenceSha256);
    // Binding before genuineness so a replayed-but-genuine quote is reported as what it is.
    // (az-tdx-vtpm: the verifier checked the binding among its steps; its outcome is mapped here.)
    if (attested.tee === AZ_TDX_VTPM_TEE) checkAzTdxVtpmOutcome(attested, { algorithm: hashAlg, initData });
    else
      checkReportDataBinding(
        attested.report.reportData,
        expectedReportData(session.nonce, teePubkey, additionalEvidence, hashAlg),
        hashAlg,
      );
    if (initData && attested.tee === "tdx") bindInitData(attested, initData);
    const result = attested.result;
    if (!result.ok) {
      const problem: NonNullable<typeof result.error> = result.error ?? {
        code: "QUOTE_NOT_VERIFIED",
        message: "verification failed",
      };
      throw new TdxError(
        "KBS_EVIDENCE_REJECTED",
        `the quote did not verify: ${problem.code}: ${problem.message}`,
        {
          ...(problem.field !== undefined ? { field: problem.field } : {}),
          ...(problem.offset !== undefined ? { offset: problem.offset } : {}),
          ...(problem.hint ? { hint: problem.hint } : {}),
          data: { problems: [problem] },
        },
      );
    }
    if (attested.eventLog && !attested.eventLog.matches) {
      const detail = attested.eventLog.detail;
      throw new TdxError(
        "KBS_EVENTLOG_MISMATCH",
        `the event log does not replay to the quote's RTMRs${detail ? `: ${detail}` : ""}`,
        { hint: "send the complete CCEL (and runtime log) of this boot, or none" },
      );
    }
    if (!policy)
      throw new TdxError(
        "KBS_POLICY_NOT_FOUND",
        `attestation policy ${this.attestationPolicyId} does not exist`,
        {
          hint: "set it with: tdx-attest kbs policy set --kind attestation ID --file POLICY.json",
        },
      );
    const appraisal = appraiseEvidence(
      attested,
      this.#attestationPolicies.get(policy.id, policy.updatedAt, policy.body),
      now,
    );
    const claims = buildTokenClaims({
      attested,
      ...(initData ? { initData } : {}),
      teePubkey: teePubkey as never,
      nonce: session.nonce,
      policyId: policy.id,
      additionalEvidence,
      hashAlgorithm: hashAlg,
    });
    if (attested.tee === AZ_TDX_VTPM_TEE) addAzTdxVtpmClaims(claims, attested, initData);
    if (!appraisal.allowed) {
      const err = denied("KBS_ATTESTATION_POLICY_DENIED", "attestation", policy.id, appraisal.denials);
      throw Object.assign(err, { auditClaims: claims });
    }
    const { token, expiresAt, registered } = await this.#signer.sign(claims, now);
    // Stored small: the claim set once per distinct content, this session's own claims beside it.
    const split = splitClaims({ ...claims, ...registered });
    await this.store.attachClaims(
      session.id,
      claimSetOf(split.shared),
      JSON.stringify(split.session),
      expiresAt.getTime(),
      expiresAt.getTime(),
      {
        at: now.getTime(),
        event: "attest",
        sessionId: session.id,
        evidenceSha256: attested.evidenceSha256,
        verdict: "allowed",
        reason: null,
        requestId: ctx.requestId ?? null,
      },
    );
    return { token, sessionExpiresAt: expiresAt, claims };
  }

  /** The token of an attested session (Trustee answers a second /attest with it). */
  async #sessionToken(session: SessionRecord, now: Date): Promise<AttestOutcome> {
    const full = await this.#sessionClaims(session, now);
    // Answered from reads alone: what they saw must be on disk before the token leaves.
    await this.store.settle();
    const { iss: _iss, iat, nbf: _nbf, exp, jti, ...claims } = full;
    const { token } = await this.#signer.sign(claims, now, {
      iat: Number(iat),
      exp: Number(exp),
      jti: String(jti),
    });
    return { token, sessionExpiresAt: new Date(session.expiresAt), claims: full };
  }

  /** An attested session's token claims, from its claim set and its own claims (no token is stored). */
  async #sessionClaims(session: SessionRecord, now: Date): Promise<Record<string, unknown>> {
    if (session.state !== "attested" || !session.claimsRef || !session.sessionClaims)
      throw new TdxError("KBS_NOT_ATTESTED", "this session has not attested yet", {
        hint: "POST the evidence to /kbs/v0/attest before asking for resources",
      });
    if (session.tokenExpiresAt === null || session.tokenExpiresAt <= now.getTime())
      throw new TdxError("KBS_TOKEN_EXPIRED", "the attestation token has expired", {
        hint: "attest again (POST /kbs/v0/auth then /kbs/v0/attest) to get a fresh token",
      });
    const shared = await this.store.getClaimSet(session.claimsRef);
    if (!shared)
      throw new TdxError("KBS_NOT_ATTESTED", "this session's claims are gone", {
        hint: "attest again (POST /kbs/v0/auth then /kbs/v0/attest)",
      });
    return mergeClaims(shared, JSON.parse(session.sessionClaims) as Record<string, unknown>);
  }

  // ---- RCAR: resource ----------------------------------------------------------------------------

  /** Verified token claims from the session cookie or a bearer token (passport mode). */
  async claimsFor(
    auth: { sessionId?: string; bearer?: string },
    now: Date,
  ): Promise<{ claims: Record<string, unknown>; sessionId: string | null; claimsRef: string | null }> {
    return this.#tokenClaims(auth, now, (id) => this.store.getSession(id));
  }

  /**
   * As Trustee's get_attestation_token: the session cookie's token when that session is attested and current,
   * else the bearer token (a stale bearer does not hide a good session, nor the reverse). `readSession` reads
   * the session (with whatever else its caller wants from the same round trip).
   */
  async #tokenClaims(
    auth: { sessionId?: string; bearer?: string },
    now: Date,
    readSession: (id: string) => Promise<SessionRecord | undefined>,
  ): Promise<{ claims: Record<string, unknown>; sessionId: string | null; claimsRef: string | null }> {
    if (auth.sessionId) {
      const session = await readSession(auth.sessionId);
      try {
        const s = checkSession(session, now);
        return { claims: await this.#sessionClaims(s, now), sessionId: s.id, claimsRef: s.claimsRef };
      } catch (e) {
        if (!auth.bearer || !sessionUnusable(e)) throw e;
      }
    }
    if (!auth.bearer) throw sessionMissing();
    return { claims: await this.#signer.verify(auth.bearer, now), sessionId: null, claimsRef: null };
  }

  /** The claims a release is judged on (#tokenClaims), with the resource and its policy. */
  async #releaseContext(
    resourcePath: string,
    auth: { sessionId?: string; bearer?: string },
    now: Date,
  ): Promise<{
    claims: Record<string, unknown>;
    sessionId: string | null;
    claimsRef: string | null;
    found: Awaited<ReturnType<KbsStore["getResourceAndPolicy"]>>;
  }> {
    let read: { found: Awaited<ReturnType<KbsStore["getResourceAndPolicy"]>> } | undefined;
    const claims = await this.#tokenClaims(auth, now, async (id) => {
      // The session and the resource in one read (one round trip on PostgreSQL).
      const both = await this.store.getSessionAndResource(id, resourcePath);
      read = { found: both.found };
      return both.session;
    });
    return { ...claims, found: read ? read.found : await this.store.getResourceAndPolicy(resourcePath) };
  }

  async resource(
    path: string,
    auth: { sessionId?: string; bearer?: string },
    ctx: RequestContext = {},
  ): Promise<KbsResponse> {
    const now = this.now();
    const resourcePath = checkResourcePath(path);
    const { claims, sessionId, claimsRef, found } = await this.#releaseContext(resourcePath, auth, now);
    const audit = (verdict: "allowed" | "denied", reason: string | null) => {
      const entry: AuditEntry = {
        at: now.getTime(),
        event: "release",
        resource: resourcePath,
        sessionId,
        evidenceSha256: (claimValue(claims, "evidence_sha256") as string | undefined) ?? null,
        claimsRef,
        verdict,
        reason,
        requestId: ctx.requestId ?? null,
      };
      // A passport-mode token names its claim set by content, stored once like a session's.
      return claimsRef
        ? this.store.appendAudit(entry)
        : this.store.appendAuditWithClaims(entry, claimSetOf(splitClaims(claims).shared));
    };
    if (!found) {
      await audit("denied", "KBS_RESOURCE_NOT_FOUND");
      throw new TdxError("KBS_RESOURCE_NOT_FOUND", `resource ${resourcePath} does not exist`, {
        field: "path",
        hint: "check the path; an admin adds resources with: tdx-attest kbs secret put REPO/TYPE/TAG --file F",
      });
    }
    const { resource: record, policy } = found;
    const decision = policy
      ? evaluateResourcePolicy(this.#resourcePolicies.get(policy.id, policy.updatedAt, policy.body), claims)
      : {
          allowed: false,
          denials: [
            {
              rule: "policy-exists",
              expected: record.policyId,
              actual: null,
              message: `resource policy ${record.policyId} does not exist`,
            },
          ],
        };
    if (!decision.allowed) {
      const err = denied(
        "KBS_RESOURCE_POLICY_DENIED",
        `release of ${resourcePath}`,
        record.policyId,
        decision.denials,
      );
      await audit("denied", err.message);
      throw err;
    }
    const teePubkey = teePubkeyFromClaims(claims);
    const secret = this.#kek.open(record, resourcePath);
    try {
      const response = await encryptToTeeKey(secret, teePubkey);
      await audit("allowed", null);
      return response;
    } finally {
      secret.fill(0);
    }
  }

  // ---- admin -------------------------------------------------------------------------------------

  async putResource(path: string, secret: Uint8Array, opts: { policyId?: string } & RequestContext = {}) {
    const resourcePath = checkResourcePath(path);
    const policyId = opts.policyId ?? DEFAULT_POLICY_ID;
    if (!(await this.store.getPolicy("resource", policyId)))
      throw new TdxError("KBS_POLICY_NOT_FOUND", `resource policy ${policyId} does not exist`, {
        field: "policy",
        hint: "create it first with: tdx-attest kbs policy set ID --file POLICY.json",
      });
    if (secret.length === 0 || secret.length > 1024 * 1024)
      throw new TdxError("KBS_RESOURCE_SIZE", `a resource must be 1 byte to 1 MiB, got ${secret.length}`, {
        hint: "store small secrets such as keys; wrap large data with a key kept here",
      });
    const now = this.now().getTime();
    const sealed = this.#kek.seal(secret, resourcePath);
    await this.store.putResource({ path: resourcePath, policyId, size: secret.length, ...sealed }, now);
    await this.#adminAudit(
      now,
      `resource put ${resourcePath} (policy ${policyId}, ${secret.length} bytes)`,
      resourcePath,
      opts,
    );
    return { path: resourcePath, policyId, size: secret.length };
  }

  /** The plaintext of a resource, for an authenticated admin. */
  async readResource(path: string, ctx: RequestContext = {}): Promise<Uint8Array> {
    const resourcePath = checkResourcePath(path);
    const record = await this.store.getResource(resourcePath);
    if (!record) throw notFound(resourcePath);
    await this.#adminAudit(this.now().getTime(), `resource read ${resourcePath}`, resourcePath, ctx);
    return this.#kek.open(record, resourcePath);
  }

  async deleteResource(path: string, ctx: RequestContext = {}): Promise<void> {
    const resourcePath = checkResourcePath(path);
    if (!(await this.store.deleteResource(resourcePath))) throw notFound(resourcePath);
    await this.#adminAudit(this.now().getTime(), `resource delete ${resourcePath}`, resourcePath, ctx);
  }

  listResources() {
    return this.store.listResources();
  }

  async putPolicy(
    kind: PolicyKind,
    id: string,
    text: string,
    ctx: RequestContext = {},
  ): Promise<PolicyRecord> {
    if (!POLICY_ID.test(id))
      throw new TdxError("KBS_POLICY_ID_INVALID", `policy id ${JSON.stringify(id)} is not valid`, {
        field: "id",
        hint: "use letters, digits, '.', '_' or '-'",
      });
    if (kind === "resource") parseResourcePolicy(text);
    else if (kind === "attestation") readPolicy(text);
    else
      throw new TdxError(
        "KBS_POLICY_KIND_INVALID",
        `policy kind ${JSON.stringify(kind)} is not attestation or resource`,
        {
          field: "kind",
          hint: "use kind resource (release rules over token claims) or attestation (appraisal at /attest)",
        },
      );
    const now = this.now().getTime();
    await this.store.putPolicy({ kind, id, body: text, now });
    await this.#adminAudit(now, `policy put ${kind}/${id}`, null, ctx);
    return (await this.store.getPolicy(kind, id))!;
  }

  async getPolicy(kind: PolicyKind, id: string): Promise<PolicyRecord> {
    const p = await this.store.getPolicy(kind, id);
    if (!p)
      throw new TdxError("KBS_POLICY_NOT_FOUND", `${kind} policy ${id} does not exist`, {
        hint: "list policies with: tdx-attest kbs policy list",
      });
    return p;
  }

  listPolicies(kind?: PolicyKind) {
    return this.store.listPolicies(kind);
  }

  async deletePolicy(kind: PolicyKind, id: string, ctx: RequestContext = {}): Promise<void> {
    if (kind === "resource") {
      const users = await this.store.policyInUse(id);
      if (users.length > 0)
        throw new TdxError("KBS_POLICY_IN_USE", `resource policy ${id} is used by ${users.join(", ")}`, {
          hint: "move those resources to another policy or delete them first",
          data: { resources: users },
        });
    }
    if (kind === "attestation" && id === this.attestationPolicyId)
      throw new TdxError("KBS_POLICY_IN_USE", `attestation policy ${id} is the one /attest applies`, {
        hint: "replace it with `kbs policy set` instead of deleting it",
      });
    if (!(await this.store.deletePolicy(kind, id))) await this.getPolicy(kind, id);
    await this.#adminAudit(this.now().getTime(), `policy delete ${kind}/${id}`, null, ctx);
  }

  audit(opts: { afterId?: number; limit?: number; resource?: string } = {}): Promise<AuditRecord[]> {
    return this.store.listAudit(opts);
  }

  /** The claim sets an audit page references, by digest (what an export writes beside the rows). */
  claimSets(digests: string[]): Promise<Record<string, unknown>> {
    return this.store.getClaimSets(digests);
  }

  /**
   * Operator retention: delete audit rows older than `before` (export them first), recorded in the
   * audit log itself. The last hour always stays; everything newer than `before` stays append-only.
   */
  async pruneAudit(before: Date, ctx: RequestContext = {}): Promise<{ pruned: number; before: string }> {
    const now = this.now().getTime();
    const t = before.getTime();
    if (!Number.isFinite(t))
      throw new TdxError("KBS_AUDIT_PRUNE_INVALID", "the prune date is not a date", {
        field: "before",
        hint: "give an ISO 8601 date, e.g. 2026-01-01 or 2026-01-01T00:00:00Z",
      });
    if (t > now - 3600_000)
      throw new TdxError(
        "KBS_AUDIT_PRUNE_INVALID",
        `audit rows from the last hour are kept: ${before.toISOString()} is too recent`,
        {
          field: "before",
          hint: "prune only what an export already holds, up to an hour ago at the latest",
        },
      );
    const pruned = await this.store.pruneAudit(t, now, ctx.actor ?? null);
    await this.#adminAudit(
      now,
      `audit prune before ${before.toISOString()}: ${pruned} rows deleted`,
      null,
      ctx,
    );
    return { pruned, before: before.toISOString() };
  }

  async #adminAudit(at: number, reason: string, resource: string | null, ctx: RequestContext) {
    await this.store.appendAudit({
      at,
      event: "admin",
      resource,
      verdict: "ok",
      reason,
      actor: ctx.actor ?? null,
      requestId: ctx.requestId ?? null,
    });
  }
}

/**
 * What an evidence-pipeline failure means to a TD: collateral the broker cannot get is the broker's
 * problem (503 KBS_COLLATERAL_UNAVAILABLE); evidence that does not parse or is not a TD quote is 401
 * KBS_EVIDENCE_REJECTED with the pipeline's error as `cause`.
 */
function evidenceError(e: unknown): unknown {
  if (!(e instanceof TdxError)) return e;
  if (e.code === "ATTEST_COLLATERAL_UNAVAILABLE") {
    // The TD gets the reason's code and when to retry; the URLs and addresses of the collateral
    // service stay in the broker's log (the error's cause) and the audit log.
    const inner = e.cause instanceof TdxError ? e.cause : undefined;
    const retry = inner?.data?.retryAfterSeconds;
    return new TdxError(
      "KBS_COLLATERAL_UNAVAILABLE",
      `the broker cannot get collateral for this platform right now${inner ? ` (${inner.code})` : ""}`,
      {
        cause: e,
        hint: "the broker's collateral service (PCCS/PCS) is unreachable or misbehaving; retry later",
        data: {
          ...(inner ? { reason: inner.code } : {}),
          retryAfterSeconds: typeof retry === "number" && retry > 0 ? Math.min(retry, 3600) : 30,
        },
      },
    );
  }
  // The pipeline's field and offset stay where the client reads them (problem+json `field`, `offset`).
  return new TdxError("KBS_EVIDENCE_REJECTED", `the quote could not be verified: ${e.code}: ${e.message}`, {
    ...(e.field !== undefined ? { field: e.field } : {}),
    ...(e.offset !== undefined ? { offset: e.offset } : {}),
    ...(e.hint ? { hint: e.hint } : {}),
    data: { cause: e.toJSON() },
  });
}

/** What a sanitised refusal keeps for the audit log (admins only): the message of its innermost cause. */
function causeDetail(e: TdxError): string {
  let inner: unknown = e.cause;
  let last: TdxError | undefined;
  while (inner instanceof TdxError) {
    last = inner;
    inner = inner.cause;
  }
  return last && last.message !== e.message ? ` (${last.code}: ${last.message})` : "";
}

function sessionMissing(): TdxError {
  return new TdxError("KBS_SESSION_MISSING", "no kbs-session-id cookie was sent", {
    hint: "call POST /kbs/v0/auth first and send its kbs-session-id cookie",
  });
}

/** A session that cannot give a token (unknown, expired, not attested, token expired): a bearer may stand in. */
function sessionUnusable(e: unknown): boolean {
  return (
    e instanceof TdxError &&
    ["KBS_SESSION_UNKNOWN", "KBS_SESSION_EXPIRED", "KBS_NOT_ATTESTED", "KBS_TOKEN_EXPIRED"].includes(e.code)
  );
}

/** The session if it exists and has not expired at `now`. */
function checkSession(s: SessionRecord | undefined, now: Date): SessionRecord {
  if (!s)
    throw new TdxError("KBS_SESSION_UNKNOWN", "the kbs-session-id is not a session of this broker", {
      hint: "start again with POST /kbs/v0/auth",
    });
  if (s.expiresAt <= now.getTime())
    throw new TdxError(
      "KBS_SESSION_EXPIRED",
      `the session expired at ${new Date(s.expiresAt).toISOString()}`,
      {
        hint: "start again with POST /kbs/v0/auth; attest within the session lifetime",
      },
    );
  return s;
}

/** The init-data digest must be the TD's MRCONFIGID; a mismatch names both values. */
function bindInitData(attested: AttestedTdxEvidence, initData: InitData): void {
  try {
    checkInitDataBinding(attested.report, initData);
  } catch (e) {
    const err = e as TdxError;
    throw new TdxError("KBS_INIT_DATA_MISMATCH", err.message, {
      field: "init-data",
      ...(err.hint ? { hint: err.hint } : {}),
      ...(err.data ? { data: err.data } : {}),
    });
  }
}

/** Audit verdict of a refusal: the broker's own failures (5xx, as its HTTP answer) are errors, everything else denied. */
function auditVerdictOf(code: ErrorCode): "denied" | "error" {
  return (httpStatusOf(code) ?? 500) >= 500 ? "error" : "denied";
}

function notFound(path: string) {
  return new TdxError("KBS_RESOURCE_NOT_FOUND", `resource ${path} does not exist`, {
    field: "path",
    hint: "list resources with: tdx-attest kbs secret list",
  });
}

function consumeCode(o: Exclude<Awaited<ReturnType<KbsStore["consumeNonce"]>>, "ok">): ErrorCode {
  const codes = {
    "unknown-session": "KBS_SESSION_UNKNOWN",
    expired: "KBS_SESSION_EXPIRED",
    replayed: "KBS_NONCE_REPLAYED",
    "nonce-mismatch": "KBS_NONCE_MISMATCH",
  } as const;
  return codes[o];
}

function consumeError(o: Exclude<Awaited<ReturnType<KbsStore["consumeNonce"]>>, "ok">): TdxError {
  const hints: Record<string, [string, string]> = {
    KBS_SESSION_UNKNOWN: [
      "the session vanished before the nonce was used",
      "start again with POST /kbs/v0/auth",
    ],
    KBS_SESSION_EXPIRED: [
      "the session expired before the evidence arrived",
      "start again with POST /kbs/v0/auth",
    ],
    KBS_NONCE_REPLAYED: [
      "this challenge nonce was already used",
      "every attestation needs a fresh challenge: POST /kbs/v0/auth again",
    ],
    KBS_NONCE_MISMATCH: [
      "runtime-data.nonce is not the nonce of this session's challenge",
      "echo the nonce from /kbs/v0/auth",
    ],
  };
  const code = consumeCode(o);
  const [message, hint] = hints[code]!;
  return new TdxError(code, message, { hint });
}

function asObject(v: unknown, what: string): Record<string, unknown> {
  if (v === null || typeof v !== "object" || Array.isArray(v))
    throw invalidRequest(what, `${what} must be a JSON object`, "see docs/kbs.md for the message shapes");
  return v as Record<string, unknown>;
}

function invalidRequest(field: string, message: string, hint: string) {
  return new TdxError("KBS_REQUEST_INVALID", message, { field, hint });
}

function sealedToText(b: { kekId: string; iv: Uint8Array; ciphertext: Uint8Array; tag: Uint8Array }): string {
  const enc = (x: Uint8Array) => Buffer.from(x).toString("base64");
  return JSON.stringify({ kekId: b.kekId, iv: enc(b.iv), ciphertext: enc(b.ciphertext), tag: enc(b.tag) });
}

function sealedFromText(s: string) {
  const o = JSON.parse(s) as Record<string, string>;
  const dec = (x: string | undefined) => new Uint8Array(Buffer.from(x ?? "", "base64"));
  return { kekId: String(o.kekId), iv: dec(o.iv), ciphertext: dec(o.ciphertext), tag: dec(o.tag) };
}
