/**
 * The one error type of tdx-attest. Every bad input surfaces as a TdxError with a stable `code`
 * (never renamed once released), the offending field or byte offset where there is one, and a hint
 * that tells the user what to do next.
 */
export interface TdxErrorDetails {
  /** Name of the offending field, e.g. "header.version" or "tcbInfo.fmspc". */
  field?: string;
  /** Byte offset into the input where the problem was found. */
  offset?: number;
  /** What to do about it. */
  hint?: string;
  /** The underlying error, when one was caught and translated. */
  cause?: unknown;
  /** Extra machine-readable values (expected/actual etc.). */
  data?: Record<string, unknown>;
}

export class TdxError extends Error {
  readonly code: string;
  readonly field: string | undefined;
  readonly offset: number | undefined;
  readonly hint: string | undefined;
  readonly data: Record<string, unknown> | undefined;

  constructor(code: string, message: string, details: TdxErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = "TdxError";
    this.code = code;
    this.field = details.field;
    this.offset = details.offset;
    this.hint = details.hint;
    this.data = details.data;
  }

  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { code: this.code, message: this.message };
    if (this.field !== undefined) out.field = this.field;
    if (this.offset !== undefined) out.offset = this.offset;
    if (this.hint !== undefined) out.hint = this.hint;
    if (this.data !== undefined) out.data = this.data;
    return out;
  }
}

export function isTdxError(e: unknown): e is TdxError {
  return e instanceof TdxError;
}

/** Wrap anything thrown by a library into a TdxError with the given code and hint. */
export function asTdxError(
  e: unknown,
  code: string,
  message: string,
  details: TdxErrorDetails = {},
): TdxError {
  if (e instanceof TdxError) return e;
  const reason = e instanceof Error ? e.message : String(e);
  return new TdxError(code, `${message}: ${reason}`, { ...details, cause: e });
}
