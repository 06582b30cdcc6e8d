import { type ErrorCode, isTdxError, TdxError } from "../errors.js";
import { iso } from "./bytes.js";
import type { CollateralExpiry, VerificationCheck, VerificationResult } from "./result.js";
import type { SignatureBackend } from "./signatures.js";

/**
 * One verification in progress: the checks in Intel's order, the collateral's validity windows, the
 * signature backend, and how a run ends (the first failed check stops it; expiry is reported beside the
 * verdict, never instead of it).
 */

export const HINT_FETCH = "fetch fresh collateral for this quote from Intel PCS or your PCCS";
export const HINT_TAMPERED =
  "the quote was altered after it was produced or is corrupt; obtain a fresh quote";

/**
 * One end of a collateral item's validity window. `until`: the item is expired after `at` (certificate
 * notAfter, CRL nextUpdate, TCB Info / QE Identity nextUpdate). `from`: the item is not valid before `at`
 * (CRL thisUpdate, which Intel's `CrlStore::expired` checks too: `Validity::isValid`).
 */
export interface ValidityBound {
  item: string;
  at: number;
  kind: "until" | "from";
}

/** Thrown inside a run to stop at the first failed check; converted into `result.error`. */
export class Stop extends Error {
  constructor(readonly error: TdxError) {
    super(error.message);
  }
}

export class Run {
  readonly checks: VerificationCheck[] = [];
  readonly expiries: ValidityBound[] = [];
  constructor(
    readonly now: number,
    readonly crypto: SignatureBackend,
  ) {}

  /** Remember a verified fact in a cache: now, or once a deferring backend's checks all came back valid. */
  commit(fill: () => void): void {
    if (this.crypto.commits) this.crypto.commits.push(fill);
    else fill();
  }

  pass(name: string, extra?: Omit<VerificationCheck, "name" | "passed">): void {
    this.checks.push(extra ? { name, passed: true, ...extra } : { name, passed: true });
  }

  /** A finding that does not fail verification (reported with `nonFatal`). */
  note(name: string, extra: Omit<VerificationCheck, "name" | "passed" | "nonFatal">): void {
    this.checks.push({ name, passed: false, nonFatal: true, ...extra });
  }

  fail(
    name: string,
    code: ErrorCode,
    message: string,
    hint: string,
    extra: { expected?: unknown; actual?: unknown; field?: string; data?: Record<string, unknown> } = {},
  ): never {
    const check: VerificationCheck = { name, passed: false, detail: message };
    if (extra.expected !== undefined) check.expected = extra.expected;
    if (extra.actual !== undefined) check.actual = extra.actual;
    this.checks.push(check);
    const data: Record<string, unknown> = { ...extra.data, check: name };
    if (extra.expected !== undefined) data.expected = extra.expected;
    if (extra.actual !== undefined) data.actual = extra.actual;
    throw new Stop(new TdxError(code, message, { hint, field: extra.field ?? name, data }));
  }

  /** Turn a TdxError raised by a parser into a failed check. */
  failWith(name: string, e: unknown): never {
    const err = isTdxError(e)
      ? e
      : new TdxError("VERIFY_INTERNAL", `${name}: ${e instanceof Error ? e.message : String(e)}`, {
          hint: "this is a bug in tdx-attest; please report it with the quote and collateral",
          cause: e,
        });
    this.checks.push({ name, passed: false, detail: err.message });
    throw new Stop(err);
  }

  /** The item is expired after `at` (Intel: `now > notAfter` / `now > nextUpdate`). */
  expires(item: string, at: number): void {
    this.expiries.push({ item, at, kind: "until" });
  }

  /** The item is not valid before `at` (a CRL's thisUpdate; Intel reports it as expired, SGX_CRL_EXPIRED). */
  validFrom(item: string, at: number): void {
    this.expiries.push({ item, at, kind: "from" });
  }
}

export function errorOf(e: TdxError): VerificationResult["error"] {
  const out: NonNullable<VerificationResult["error"]> = { code: e.code, message: e.message };
  if (e.hint !== undefined) out.hint = e.hint;
  if (e.field !== undefined) out.field = e.field;
  if (e.offset !== undefined) out.offset = e.offset;
  if (e.data !== undefined) out.data = e.data;
  return out;
}

/** A result with nothing established yet: the start of every verification. */
export function emptyResult(at: number, checks: VerificationResult["checks"]): VerificationResult {
  return {
    ok: false,
    tcbStatus: null,
    advisoryIds: [],
    collateralExpired: false,
    earliestExpiry: null,
    expiredItems: [],
    matchedTcbLevel: null,
    qeIdentityStatus: null,
    qeIdentityLevel: null,
    tdxModuleStatus: null,
    tdxModuleIdentity: null,
    checks,
    error: null,
    at,
    platform: null,
    collateral: null,
    quote: null,
  };
}

export function failedResult(err: TdxError, at: number, check: string): VerificationResult {
  const result = emptyResult(Math.floor(at), [{ name: check, passed: false, detail: err.message }]);
  result.error = errorOf(err);
  return result;
}

/**
 * Run `steps` at time `now` and turn the outcome into a result: a failed check becomes `result.error`,
 * anything unexpected VERIFY_INTERNAL; then the validity windows are judged at `now`.
 */
export function runToResult(
  now: number,
  crypto: SignatureBackend,
  steps: (run: Run, result: VerificationResult) => void,
): VerificationResult {
  const run = new Run(now, crypto);
  const result = emptyResult(now, run.checks);
  try {
    steps(run, result);
    result.ok = true;
  } catch (e) {
    const err = e instanceof Stop ? e.error : isTdxError(e) ? e : null;
    if (!err) {
      result.error = {
        code: "VERIFY_INTERNAL",
        message: e instanceof Error ? e.message : String(e),
        hint: "this is a bug in tdx-attest; please report it with the quote and collateral",
      };
    } else {
      result.error = errorOf(err);
    }
    // A parser error raised outside a named step still ends the list with a failed check.
    if (!(e instanceof Stop))
      run.checks.push({ name: "input", passed: false, detail: result.error?.message ?? "" });
  }
  judgeValidity(run, result);
  return result;
}

/**
 * Expiry is reported beside the verdict (Intel's collateral_expiration_status), never instead of it.
 * Intel's windows (QVL PckCertVerifier, TCBInfoVerifier, EnclaveIdentityVerifier): expired when
 * now > notAfter / nextUpdate, and for CRLs also when now < thisUpdate (CrlStore::expired).
 */
function judgeValidity(run: Run, result: VerificationResult): void {
  const now = run.now;
  let earliest: CollateralExpiry | null = null;
  for (const e of run.expiries) {
    if (e.kind === "from") {
      if (now < e.at) result.expiredItems.push(e.item);
      continue;
    }
    if (earliest === null || e.at < earliest.at) earliest = { at: e.at, iso: "", item: e.item };
    if (now > e.at) result.expiredItems.push(e.item);
  }
  if (earliest) earliest.iso = iso(earliest.at);
  result.earliestExpiry = earliest;
  result.collateralExpired = result.expiredItems.length > 0;
  if (result.ok && run.expiries.length > 0) {
    run.checks.push({
      name: "collateral.validity",
      passed: !result.collateralExpired,
      nonFatal: true,
      expected: earliest ? `now <= ${earliest.iso} (${earliest.item})` : undefined,
      actual: iso(now),
      detail: result.collateralExpired
        ? `outside its validity: ${result.expiredItems.join(", ")} (reported as collateralExpired, not a failure)`
        : "every certificate, CRL, TCB Info and QE Identity is within its validity",
    });
  }
}
