/**
 * From the parts a QGS carries (`tdx_ql_qv_collateral_t`, each NUL-terminated by Intel's QPL:
 * QuoteGeneration/qpl/sgx_default_quote_provider.cpp and qcnl's QvCollateralProvider) to the project's
 * Collateral, for the encodings the QPL produces: DER CRLs (PCS, collateral 3.1/4.0), PEM PCK CRL and hex
 * root CA CRL (PCCS collateral 3.0).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { readCollateral, writeCollateral } from "../../src/collateral/index.js";
import {
  collateralFromQgsParts,
  nulTerminated,
  type QgsCollateralParts,
  qgsCollateralPartsOf,
} from "../../src/qgs/index.js";
import { createSimPlatform, FMSPC, type SimCollateralBundle, type SimPlatform } from "../../src/sim/index.js";
import { tdxErrorOf } from "../helpers/errors.js";

let platform: SimPlatform;
let bundle: SimCollateralBundle;
let parts: QgsCollateralParts;

beforeAll(async () => {
  platform = await createSimPlatform();
  bundle = await platform.collateralBundle();
  parts = qgsCollateralPartsOf(bundle, platform.pckCa);
});

const pem = (der: Uint8Array) =>
  `-----BEGIN X509 CRL-----\n${Buffer.from(der)
    .toString("base64")
    .replace(/(.{64})/g, "$1\n")}\n-----END X509 CRL-----\n`;

describe("collateralFromQgsParts", () => {
  it("gives back exactly the collateral the platform issued, and it survives the JSON file", () => {
    const c = collateralFromQgsParts(parts, { fmspc: FMSPC });
    expect(c).toEqual(bundle.collateral);
    expect(readCollateral(writeCollateral(c))).toEqual(c);
  });

  it("reads collateral version 3.0 encodings (PEM PCK CRL, hex root CA CRL) and parts without their NUL", () => {
    const v30: QgsCollateralParts = {
      ...parts,
      majorVersion: 3,
      minorVersion: 0,
      pckCrl: nulTerminated(pem(bundle.collateral.pckCrl)),
      rootCaCrl: nulTerminated(Buffer.from(bundle.collateral.rootCaCrl).toString("hex")),
      tcbInfo: new TextEncoder().encode(bundle.tcbInfoResponse),
    };
    expect(collateralFromQgsParts(v30)).toEqual(bundle.collateral);
  });

  it("refuses a TCB Info of another FMSPC than asked for", () => {
    const e = tdxErrorOf(() => collateralFromQgsParts(parts, { fmspc: "00906ED50000" }));
    expect([e.code, e.field, e.data?.answered]).toEqual(["QGS_COLLATERAL_MISMATCH", "tcb_info.fmspc", FMSPC]);
  });

  it("names the part that is not collateral", () => {
    const cases: Array<[Partial<QgsCollateralParts>, string]> = [
      [{ tcbInfo: nulTerminated('{"tcbInfo":{}}') }, "tcb_info"],
      [{ qeIdentity: nulTerminated("not json") }, "qe_identity"],
      [{ pckCrl: nulTerminated("no crl here") }, "pck_crl"],
      [{ rootCaCrl: Uint8Array.of(0) }, "root_ca_crl"],
      [
        { tcbInfoIssuerChain: nulTerminated(bundle.tcbInfoIssuerChain.split("-----END")[0] ?? "") },
        "tcb_info_issuer_chain",
      ],
      [{ pckCrlIssuerChain: Uint8Array.of(0xff, 0xfe, 0) }, "pck_crl_issuer_chain"],
    ];
    for (const [change, field] of cases) {
      const e = tdxErrorOf(() => collateralFromQgsParts({ ...parts, ...change }));
      expect([e.code, e.field]).toEqual(["QGS_COLLATERAL_MALFORMED", field]);
      expect(e.hint).toMatch(/PCCS/);
    }
  });
});
