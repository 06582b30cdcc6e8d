import { describe, expect, it } from "vitest";
import { readCollateral } from "../../src/collateral/json.js";
import { isTdxError } from "../../src/errors.js";

// readCollateral decodes hex with Buffer's decoder, which stops at the first bad pair and reads only the
// low byte of each UTF-16 unit: these inputs must still be refused, not decoded to other bytes.
const base = {
  pck_crl_issuer_chain: "x",
  root_ca_crl: "00",
  pck_crl: "00",
  tcb_info_issuer_chain: "x",
  tcb_info: "{}",
  tcb_info_signature: "00",
  qe_identity_issuer_chain: "x",
  qe_identity: "{}",
  qe_identity_signature: "00",
};

function codeOf(rootCaCrl: unknown): string | null {
  try {
    readCollateral(JSON.stringify({ ...base, root_ca_crl: rootCaCrl }));
    return null;
  } catch (e) {
    return isTdxError(e) ? e.code : "not a TdxError";
  }
}

describe("readCollateral byte fields", () => {
  it("decodes hex (either case, optional 0x, surrounding whitespace) into a private Uint8Array", () => {
    const c = readCollateral(JSON.stringify({ ...base, root_ca_crl: " 0xA0ff01 " }));
    expect(Array.from(c.rootCaCrl)).toEqual([0xa0, 0xff, 0x01]);
    expect(c.rootCaCrl.byteOffset).toBe(0);
    expect(c.rootCaCrl.buffer.byteLength).toBe(3);
  });

  it.each([
    ["a bad digit at the end", "abcd0g"],
    ["a bad digit at the start", "g0abcd"],
    ["an odd length", "abc"],
    ["nothing", ""],
    ["only 0x", "0x"],
    ["a space inside", "ab cd"],
    ["non-ASCII whose low byte is a hex digit (U+0130, U+0131)", "\u0130\u0131"],
    ["Latin-1 letters", "ab\u00e9f"],
  ])("refuses %s", (_what, hex) => {
    expect(codeOf(hex)).toBe("COLLATERAL_MALFORMED");
  });
});
