import type { QeIdentity, QeTcbLevel } from "../collateral/qe-identity.js";
import { bytesEqual, hex } from "./bytes.js";
import type { QeIdentityLevel, QeIdentityStatus } from "./result.js";
import type { Run } from "./run.js";
import { qeStatusOf } from "./status.js";

/**
 * The Quoting Enclave against its identity (QVL `Verifiers/QuoteVerifier.cpp` 4.1.2.4.14-15,
 * `Verifiers/EnclaveReportVerifier.cpp` 4.1.2.9.5-10): the identity for the quote's TEE, the QE report's
 * masked MISCSELECT and ATTRIBUTES, MRSIGNER and ISVPRODID, then where its ISVSVN stands.
 */

export type QeIdentityField = "miscselect" | "attributes" | "mrSigner" | "isvProdId";

export interface QeIdentityComparison {
  field: QeIdentityField;
  expected: string | number;
  actual: string | number;
  equal: boolean;
}

/** The four comparisons of EnclaveReportVerifier, in its order, over the 384-byte QE report. */
export function compareQeReport(id: QeIdentity, qeReport: Uint8Array): QeIdentityComparison[] {
  const masked = (off: number, mask: Uint8Array): Uint8Array => {
    const out = new Uint8Array(mask.length);
    for (let i = 0; i < mask.length; i++) out[i] = qeReport[off + i]! & mask[i]!;
    return out;
  };
  // MISCSELECT (report offset 16) and ATTRIBUTES (48) masked byte-wise; MRSIGNER at 128; ISVPRODID at 256 (LE).
  const misc = masked(16, id.miscselectMask);
  const attrs = masked(48, id.attributesMask);
  const mrSigner = qeReport.subarray(128, 160);
  const prodId = qeReport[256]! | (qeReport[257]! << 8);
  return [
    {
      field: "miscselect",
      expected: hex(id.miscselect),
      actual: hex(misc),
      equal: bytesEqual(misc, id.miscselect),
    },
    {
      field: "attributes",
      expected: hex(id.attributes),
      actual: hex(attrs),
      equal: bytesEqual(attrs, id.attributes),
    },
    {
      field: "mrSigner",
      expected: hex(id.mrSigner),
      actual: hex(mrSigner),
      equal: bytesEqual(mrSigner, id.mrSigner),
    },
    { field: "isvProdId", expected: id.isvProdId, actual: prodId, equal: prodId === id.isvProdId },
  ];
}

/** EnclaveIdentityV2::getTcbStatus: the first level, in JSON order, whose isvsvn <= the QE's ISVSVN. */
export function qeTcbLevel(levels: QeTcbLevel[], isvSvn: number): QeTcbLevel | undefined {
  return levels.find((l) => l.isvSvn <= isvSvn);
}

const MISMATCH: Record<QeIdentityField, { message: string; hint: string }> = {
  miscselect: {
    message: "the QE's MISCSELECT (masked) does not match the QE identity",
    hint: "the quote was not produced by Intel's genuine QE",
  },
  attributes: {
    message: "the QE's ATTRIBUTES (masked) do not match the QE identity",
    hint: "the quote was not produced by Intel's genuine QE (or by a debug QE)",
  },
  mrSigner: {
    message: "the QE's MRSIGNER does not match the QE identity",
    hint: "the quote was not produced by Intel's QE",
  },
  isvProdId: {
    message: "the QE's ISVPRODID does not match the QE identity",
    hint: "the quote was not produced by the expected Intel QE",
  },
};

/** 4.1.2.4.14-15: records the checks; an ISVSVN below every level is not fatal here (Intel fails later). */
export function checkQeIdentity(
  run: Run,
  isTdx: boolean,
  qeReport: Uint8Array,
  isvSvn: number,
  id: QeIdentity,
): { qeStatus: QeIdentityStatus; qeLevel: QeIdentityLevel | null } {
  const wantId = isTdx ? "TD_QE" : "QE";
  if (id.id !== wantId) {
    run.fail(
      "qeIdentity.teeType",
      "QE_IDENTITY_MISMATCH",
      `the QE identity is "${id.id}" but a ${isTdx ? "TDX" : "SGX"} quote needs "${wantId}"`,
      `fetch the ${isTdx ? "TDX" : "SGX"} QE identity`,
      { expected: wantId, actual: id.id },
    );
  }
  run.pass("qeIdentity.teeType", { expected: wantId, actual: id.id });
  for (const c of compareQeReport(id, qeReport)) {
    const name = `qeIdentity.${c.field}`;
    if (!c.equal) {
      const m = MISMATCH[c.field];
      run.fail(name, "QE_IDENTITY_MISMATCH", m.message, m.hint, { expected: c.expected, actual: c.actual });
    }
    run.pass(name, { expected: c.expected, actual: c.actual });
  }
  const level = qeTcbLevel(id.tcbLevels, isvSvn);
  if (!level) {
    // Intel does not stop here: the quote signature and the TCB level come first, then TCB_NOT_SUPPORTED.
    run.note("qeIdentity.tcbLevel", {
      expected: `isvsvn >= ${Math.min(...id.tcbLevels.map((l) => l.isvSvn))}`,
      actual: isvSvn,
      detail: `no QE identity TCB level covers the QE's ISVSVN ${isvSvn} (fails after the quote signature, as Intel's QVL does)`,
    });
    return { qeStatus: "NotSupported", qeLevel: null };
  }
  run.pass("qeIdentity.tcbLevel", { actual: { isvSvn, level: level.isvSvn, status: level.tcbStatus } });
  return {
    qeStatus: qeStatusOf(level.tcbStatus),
    qeLevel: {
      isvSvn: level.isvSvn,
      tcbDate: level.tcbDate,
      tcbStatus: level.tcbStatus,
      advisoryIds: level.advisoryIds,
    },
  };
}
