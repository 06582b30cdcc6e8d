import { createHash, sign } from "node:crypto";
import {
  bytesEqual,
  encodeQuoteSignedRegion,
  encodeSgxReportBody,
  fromHex,
  INTEL_QE_VENDOR_ID,
  pckCertChainCertificationData,
  type QuoteBody,
  type QuoteHeader,
  type SgxReportBody,
  serializeQuote,
  type TdReport,
  type TdReportBody,
  toHex,
} from "../abi/index.js";
import { TdxError } from "../errors.js";
import { TD_QE_ISVPRODID, TD_QE_MRSIGNER } from "./collateral.js";
import type { SimKey } from "./pki.js";
import { verifyTdReport } from "./tdx-module.js";

/**
 * The simulated TD Quoting Enclave: checks a TDREPORT like EVERIFYREPORT2 does (MAC under this
 * platform's key, TEE_TCB_INFO_HASH, TEE_INFO_HASH), then signs a Quote v4 or v5 with its ECDSA P-256
 * attestation key. Its QE report has the production TD QE's MRSIGNER, ISVPRODID 2 and attributes, binds
 * the attestation key (REPORTDATA = SHA-256(key || QE auth data) || 32 zero bytes) and is signed by the
 * PCK key; the certification data is type 6 wrapping type 5 (the PCK chain as NUL-terminated PEM).
 */

/** Intel's QE writes these 32 bytes (0x00..0x1f) as QE authentication data. */
export const QE_AUTH_DATA = Uint8Array.from({ length: 32 }, (_, i) => i);
/** Simulated MRENCLAVE of the TD QE (the real one is the hash of Intel's enclave; verifiers ignore it). */
export const SIM_TD_QE_MRENCLAVE = new Uint8Array(
  createHash("sha256").update("tdx-attest simulated TD Quoting Enclave").digest(),
);
/** QE report ATTRIBUTES: flags INIT|MODE64BIT|PROVISION_KEY (0x15), XFRM 0xE7, as the production TD QE. */
const QE_ATTRIBUTES = Uint8Array.from([0x15, 0, 0, 0, 0, 0, 0, 0, 0xe7, 0, 0, 0, 0, 0, 0, 0]);

export interface QuotingEnclaveConfig {
  attestationKey: SimKey;
  pckKey: SimKey;
  /** PEM certificates, leaf first: PCK, its CA, the root. */
  pckChain: string[];
  /** 16-byte QE identifier (the first 16 bytes of the header's user data). */
  qeId: Uint8Array;
  cpuSvn: Uint8Array;
  isvSvn: number;
  /** The platform's report MAC key (shared with the simulated TDX module). */
  macKey: Uint8Array;
}

export interface QuoteOptions {
  /**
   * Quote version: 4 (TD 1.0 body) or 5 (default body: TD 1.5 for a TDX 1.5 module, else TD 1.0).
   * Default: what Intel's TD QE picks (`determine_quote_version`): 4, but 5 with a TD 1.5 body when
   * TEE_TCB_SVN2 differs from TEE_TCB_SVN (a TD-preserving module update) or the report has service TDs
   * (REPORTTYPE.version 1). Version 4 is refused for such reports: the QE never emits it for them.
   */
  version?: 4 | 5;
  /** v5 only: force body type 2 (TD 1.0) or 3 (TD 1.5). */
  bodyType?: 2 | 3;
}

function p1363(data: Uint8Array, key: SimKey): Uint8Array {
  return new Uint8Array(sign("sha256", data, { key: key.privateKey, dsaEncoding: "ieee-p1363" }));
}

export class SimQuotingEnclave {
  /**
   * The QE report and its PCK signature certify the attestation key; like Intel's QE, they are made once
   * per attestation key (at certification time), not per quote. Same for the PCK chain payload.
   */
  private certified: {
    qeReport: SgxReportBody;
    qeReportBytes: Uint8Array;
    qeReportSignature: Uint8Array;
    chain: ReturnType<typeof pckCertChainCertificationData>;
  } | null = null;

  constructor(private readonly cfg: QuotingEnclaveConfig) {}

  private certification() {
    if (!this.certified) {
      const qeReport = this.qeReport();
      const qeReportBytes = encodeSgxReportBody(qeReport);
      this.certified = {
        qeReport,
        qeReportBytes,
        qeReportSignature: p1363(qeReportBytes, this.cfg.pckKey),
        chain: pckCertChainCertificationData(this.cfg.pckChain),
      };
    }
    return this.certified;
  }

  /** The QE report body (what the PCK key signs) for the current attestation key. */
  qeReport(): SgxReportBody {
    const reportData = new Uint8Array(64);
    reportData.set(
      createHash("sha256").update(this.cfg.attestationKey.rawPublic).update(QE_AUTH_DATA).digest(),
      0,
    );
    const isvSvn = this.cfg.isvSvn;
    return {
      cpuSvn: this.cfg.cpuSvn,
      miscSelect: 0,
      reserved1: new Uint8Array(28),
      attributes: QE_ATTRIBUTES,
      mrEnclave: SIM_TD_QE_MRENCLAVE,
      reserved2: new Uint8Array(32),
      mrSigner: fromHex(TD_QE_MRSIGNER, "TD_QE_MRSIGNER"),
      reserved3: new Uint8Array(96),
      isvProdId: TD_QE_ISVPRODID,
      isvSvn,
      reserved4: new Uint8Array(60),
      reportData,
    };
  }

  /** Quote generation from a TDREPORT (what the host's QGS asks the QE for). */
  quoteFromTdReport(tdReportBytes: Uint8Array, opts: QuoteOptions = {}): Uint8Array {
    const report = verifyTdReport(tdReportBytes, this.cfg.macKey);
    const tdx15 = (report.teeTcbInfo.valid[2]! & 0x03) === 0x03;
    // The TD QE's own choice: a TD 1.0 body cannot carry TEE_TCB_SVN2 or MRSERVICETD, so it quotes v5/TD 1.5
    // whenever either says something.
    const svn2Differs = tdx15 && !bytesEqual(report.teeTcbInfo.teeTcbSvn, report.teeTcbInfo.teeTcbSvn2);
    const needsTd15 = svn2Differs || report.reportMacStruct.reportType.version === 1;
    const version = opts.version ?? (needsTd15 ? 5 : 4);
    if (version !== 4 && version !== 5) {
      throw new TdxError("SIM_QUOTE_VERSION", `quote version ${String(version)} is not supported`, {
        field: "version",
        hint: "use version 4 or 5",
      });
    }
    let bodyType: 2 | 3 = 2;
    if (version === 5) bodyType = opts.bodyType ?? (tdx15 ? 3 : 2);
    else if (opts.bodyType === 3) {
      throw new TdxError("SIM_QUOTE_VERSION", "a v4 quote carries a TD 1.0 body only", {
        field: "bodyType",
        hint: "ask for version 5 to get a TD 1.5 body",
      });
    }
    if (needsTd15 && bodyType !== 3) {
      const why = svn2Differs
        ? "TEE_TCB_SVN2 differs from TEE_TCB_SVN (the TDX module was updated under the running TD)"
        : "the TD has service TDs bound (REPORTTYPE.version 1)";
      throw new TdxError(
        "SIM_QUOTE_VERSION",
        `${why}: Intel's TD QE only emits quote v5 with a TD 1.5 body for this report`,
        {
          field: "version",
          hint: "ask for version 5 (or leave the version to the QE)",
          data: {
            teeTcbSvn: toHex(report.teeTcbInfo.teeTcbSvn),
            teeTcbSvn2: toHex(report.teeTcbInfo.teeTcbSvn2),
          },
        },
      );
    }
    const td = report.tdInfo;
    const tcb = report.teeTcbInfo;
    const body: TdReportBody = {
      teeTcbSvn: tcb.teeTcbSvn,
      mrSeam: tcb.mrSeam,
      mrSignerSeam: tcb.mrSignerSeam,
      seamAttributes: tcb.attributes,
      tdAttributes: td.attributes,
      xfam: td.xfam,
      mrTd: td.mrTd,
      mrConfigId: td.mrConfigId,
      mrOwner: td.mrOwner,
      mrOwnerConfig: td.mrOwnerConfig,
      rtmr: [td.rtmr[0], td.rtmr[1], td.rtmr[2], td.rtmr[3]],
      reportData: report.reportMacStruct.reportData,
    };
    if (bodyType === 3) {
      body.teeTcbSvn2 = tcb.teeTcbSvn2;
      body.mrServiceTd = td.servTdHash;
    }
    const quoteBody: QuoteBody =
      bodyType === 3 ? { type: 3, kind: "td15", report: body } : { type: 2, kind: "td10", report: body };
    const userData = new Uint8Array(20);
    userData.set(this.cfg.qeId, 0);
    const header: QuoteHeader = {
      version,
      attestationKeyType: 2,
      teeType: 0x81,
      qeSvn: 0,
      pceSvn: 0,
      qeVendorId: INTEL_QE_VENDOR_ID,
      userData,
    };
    const signature = p1363(encodeQuoteSignedRegion(header, quoteBody), this.cfg.attestationKey);
    const { qeReport, qeReportBytes, qeReportSignature, chain } = this.certification();
    return serializeQuote({
      header,
      body: quoteBody,
      signatureData: {
        signature,
        attestationKey: this.cfg.attestationKey.rawPublic,
        qeReportCertificationData: {
          qeReport,
          qeReportBytes,
          qeReportSignature,
          qeAuthData: QE_AUTH_DATA,
          certificationData: chain,
        },
      },
    });
  }
}

export type { TdReport };
