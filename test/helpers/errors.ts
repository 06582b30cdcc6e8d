import { isTdxError, type TdxError } from "../../src/errors.js";

/** The TdxError `f` throws; anything else it throws is rethrown, and returning normally fails the test. */
export function tdxErrorOf(f: () => unknown): TdxError {
  try {
    f();
  } catch (e) {
    if (isTdxError(e)) return e;
    throw e;
  }
  throw new Error("expected a TdxError");
}

/** The TdxError `p` rejects with; another rejection is rethrown, and resolving fails the test. */
export async function rejectionOf(p: Promise<unknown>): Promise<TdxError> {
  try {
    await p;
  } catch (e) {
    if (isTdxError(e)) return e;
    throw e;
  }
  throw new Error("expected a rejection with a TdxError");
}
