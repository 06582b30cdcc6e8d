import "reflect-metadata";
import { sign, webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { encodeQuoteSignedRegion, parseQuote, serializeQuote } from "../../src/abi/quote.js";
import { encodeSgxReportBody } from "../../src/abi/reports.js";
import type { Collateral } from "../../src/collateral/types.js";
import { signText } from "../../src/sim/collateral.js";
import { bitString, boolean, integer, octetString, sequence, tlv } from "../../src/sim/der.js";
import {
  createSimPlatform,
  encodeSgxExtension,
  type PckExtensionValues,
  type SimPlatform,
} from "../../src/sim/index.js";
import {
  generateSimKey,
  INTEL_CN,
  type IssuedCert,
  intelName,
  issueCrl,
  keyIdOf,
  OID_SGX_EXTENSION,
  pckCrlUrl,
  ROOT_CRL_URL,
  randomSerial,
  type SimKey,
} from "../../src/sim/pki.js";
import { SimQuotingEnclave } from "../../src/sim/quoting-enclave.js";
import { FMSPC, PCE_ID, platformTcbFor } from "../../src/sim/scenarios.js";
import { type VerificationResult, Verifier } from "../../src/verify/index.js";

/**
 * The simulated platform with its keys, for differential tests: every piece of collateral or of the quote
 * can be changed and re-signed with the simulator's own keys, so that only Intel's rules decide the verdict.
 */

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export interface SimKeys {
  root: SimKey;
  platformCa: SimKey;
  processorCa: SimKey;
  tcbSigning: SimKey;
  pck: SimKey;
  attestation: SimKey;
  macKey: Uint8Array;
}

export type Json = Record<string, unknown>;

export interface SimWorld {
  p: SimPlatform;
  keys: SimKeys;
  now: Date;
  quote: Uint8Array;
  collateral: Collateral;
  /** PCK CRLs of both CAs, issued with the collateral. */
  pckCrls: { platform: Uint8Array; processor: Uint8Array };
  verifier: Verifier;
}

export async function simWorld(
  now = new Date("2026-06-01T12:00:00Z"),
  /** A scenario of src/sim/scenarios.ts (default up-to-date) and the quote's version (default 4). */
  opts: { scenario?: string; quoteVersion?: 4 | 5 } = {},
): Promise<SimWorld> {
  const p = await createSimPlatform({
    now: new Date(now.getTime() - 30 * 86400_000),
    ...(opts.scenario ? { scenario: opts.scenario as never } : {}),
  });
  // The platform keeps its keys private; tests need them to re-sign what they change.
  const keys = (p as unknown as { keys: SimKeys }).keys;
  const bundle = await p.collateralBundle({ now });
  return {
    p,
    keys,
    now,
    quote: p.quote(new Uint8Array(64).fill(7), { version: opts.quoteVersion ?? 4 }),
    collateral: bundle.collateral,
    pckCrls: bundle.pckCrl,
    verifier: new Verifier({ trustAnchors: [p.rootCaPem] }),
  };
}

/** The TCB Info re-signed after `edit` (on the parsed object, or on the text when it returns a string). */
export function withTcbInfo(w: SimWorld, edit: (o: Json, text: string) => undefined | string): Collateral {
  const o = JSON.parse(w.collateral.tcbInfo) as Json;
  const out = edit(o, w.collateral.tcbInfo);
  const text = typeof out === "string" ? out : JSON.stringify(o);
  return { ...w.collateral, tcbInfo: text, tcbInfoSignature: signText(text, w.keys.tcbSigning) };
}

/** The QE Identity re-signed after `edit`. */
export function withQeIdentity(w: SimWorld, edit: (o: Json, text: string) => undefined | string): Collateral {
  const o = JSON.parse(w.collateral.qeIdentity) as Json;
  const out = edit(o, w.collateral.qeIdentity);
  const text = typeof out === "string" ? out : JSON.stringify(o);
  return { ...w.collateral, qeIdentity: text, qeIdentitySignature: signText(text, w.keys.tcbSigning) };
}

/** A Root CA CRL or PCK CRL (Platform CA) with the given window and revocations. */
export function crl(
  w: SimWorld,
  which: "root" | "platform" | "processor",
  opts: { thisUpdate?: Date; nextUpdate?: Date; revoked?: Uint8Array[] } = {},
): Promise<Uint8Array> {
  const c = w.p.certs;
  const issuer = which === "root" ? c.root : which === "platform" ? c.platformCa : c.processorCa;
  const issuerKey =
    which === "root" ? w.keys.root : which === "platform" ? w.keys.platformCa : w.keys.processorCa;
  return issueCrl({
    issuer,
    issuerKey,
    thisUpdate: opts.thisUpdate ?? new Date(w.now.getTime() - 3600_000),
    nextUpdate: opts.nextUpdate ?? new Date(w.now.getTime() + 30 * 86400_000),
    revokedSerials: opts.revoked ?? [],
  });
}

/** A CRL built by hand: optional nextUpdate, optional extensions (CRL Number, AKI). */
export async function customCrl(
  w: SimWorld,
  opts: { nextUpdate: boolean; crlNumber: boolean; issuer?: IssuedCert; key?: SimKey },
): Promise<Uint8Array> {
  const issuer = opts.issuer ?? w.p.certs.platformCa;
  const key = await importPrivate(opts.key ?? w.keys.platformCa);
  const ext: x509.Extension[] = [
    new x509.Extension("2.5.29.35", false, Uint8Array.from(sequence(tlv(0x80, issuer.keyId)))),
  ];
  if (opts.crlNumber) ext.unshift(new x509.Extension("2.5.29.20", false, Uint8Array.from(integer(1))));
  const params: x509.X509CrlCreateParams = {
    issuer: intelName(issuer.cn),
    thisUpdate: new Date(w.now.getTime() - 3600_000),
    signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
    signingKey: key,
    extensions: ext,
    entries: [],
  };
  if (opts.nextUpdate) params.nextUpdate = new Date(w.now.getTime() + 86400_000);
  return new Uint8Array((await x509.X509CrlGenerator.create(params)).rawData);
}

async function importPrivate(k: SimKey): Promise<CryptoKey> {
  return (await webcrypto.subtle.importKey(
    "pkcs8",
    Uint8Array.from(k.pkcs8),
    { name: "ECDSA", namedCurve: "P-256" },
    false,
    ["sign"],
  )) as CryptoKey;
}

async function importPublic(k: SimKey): Promise<CryptoKey> {
  const spki = Uint8Array.from(k.publicKey.export({ format: "der", type: "spki" }));
  return (await webcrypto.subtle.importKey("spki", spki, { name: "ECDSA", namedCurve: "P-256" }, true, [
    "verify",
  ])) as CryptoKey;
}

/** The PCK certificate's SGX extension values of the simulated platform. */
export function pckValues(w: SimWorld): PckExtensionValues {
  const tcb = platformTcbFor(w.p.scenario);
  return {
    ppid: new Uint8Array(16).fill(0x11),
    sgxTcbComponents: [...tcb.sgxTcbComponents],
    pceSvn: tcb.pceSvn,
    cpuSvn: Uint8Array.from(tcb.sgxTcbComponents),
    pceId: Uint8Array.from(Buffer.from(PCE_ID, "hex")),
    fmspc: Uint8Array.from(Buffer.from(FMSPC, "hex")),
    sgxType: 1,
    platformInstanceId: new Uint8Array(16).fill(0x22),
    configuration: { dynamicPlatform: true, cachedKeys: true, smtEnabled: true },
  };
}

/**
 * A PCK certificate for the platform's PCK key, issued by the Platform CA with Intel's extensions; the SGX
 * extension, the validity and the standard extensions can be chosen.
 */
export async function pckCert(
  w: SimWorld,
  opts: {
    sgxExtension?: Uint8Array;
    notBefore?: Date;
    notAfter?: Date;
    omit?: string[];
    /** Another issuing CA (default the Platform CA). */
    ca?: { cert: IssuedCert; key: SimKey };
  } = {},
): Promise<string> {
  const ca = opts.ca?.cert ?? w.p.certs.platformCa;
  const ext = (oid: string, critical: boolean, v: Uint8Array) =>
    new x509.Extension(oid, critical, Uint8Array.from(v));
  const uri = tlv(0x86, Uint8Array.from(Buffer.from(pckCrlUrl("platform"), "ascii")));
  const all = [
    ext("2.5.29.35", false, sequence(tlv(0x80, ca.keyId))),
    ext("2.5.29.31", false, sequence(sequence(tlv(0xa0, tlv(0xa0, uri))))),
    ext("2.5.29.14", false, octetString(keyIdOf(w.keys.pck))),
    ext("2.5.29.15", true, bitString(Uint8Array.of(0xc0), 6)),
    ext("2.5.29.19", true, sequence()),
    ext(OID_SGX_EXTENSION, false, opts.sgxExtension ?? encodeSgxExtension(pckValues(w))),
  ].filter((e) => !(opts.omit ?? []).includes(e.type));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: Buffer.from(randomSerial()).toString("hex"),
    subject: intelName(INTEL_CN.pck),
    issuer: intelName(ca.cn),
    notBefore: opts.notBefore ?? new Date(w.now.getTime() - 86400_000),
    notAfter: opts.notAfter ?? new Date(w.now.getTime() + 365 * 86400_000),
    publicKey: await importPublic(w.keys.pck),
    signingKey: await importPrivate(opts.ca?.key ?? w.keys.platformCa),
    signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
    extensions: all,
  });
  return `${cert.toString("pem")}\n`;
}

/**
 * The platform's PCK certificate under a PCK CA named `cn`, issued by the simulated root (with Intel's CA
 * extensions), and that CA's PCK CRL: the quote carrying that chain and the collateral carrying that CRL.
 */
export async function pckChainUnderCa(
  w: SimWorld,
  cn: string,
): Promise<{ quote: Uint8Array; collateral: Collateral }> {
  const key = generateSimKey();
  const serial = randomSerial();
  const root = w.p.certs.root;
  const ext = (oid: string, critical: boolean, v: Uint8Array) =>
    new x509.Extension(oid, critical, Uint8Array.from(v));
  const uri = tlv(0x86, Uint8Array.from(Buffer.from(ROOT_CRL_URL, "ascii")));
  const caX509 = await x509.X509CertificateGenerator.create({
    serialNumber: Buffer.from(serial).toString("hex"),
    subject: intelName(cn),
    issuer: intelName(root.cn),
    notBefore: new Date(w.now.getTime() - 86400_000),
    notAfter: new Date(w.now.getTime() + 365 * 86400_000),
    publicKey: await importPublic(key),
    signingKey: await importPrivate(w.keys.root),
    signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
    extensions: [
      ext("2.5.29.35", false, sequence(tlv(0x80, root.keyId))),
      ext("2.5.29.31", false, sequence(sequence(tlv(0xa0, tlv(0xa0, uri))))),
      ext("2.5.29.14", false, octetString(serial)),
      ext("2.5.29.15", true, bitString(Uint8Array.of(0x06), 1)),
      ext("2.5.29.19", true, sequence(boolean(true), integer(0))),
    ],
  });
  const caCert: IssuedCert = {
    pem: `${caX509.toString("pem")}\n`,
    der: new Uint8Array(caX509.rawData),
    serial,
    keyId: serial,
    cn,
  };
  const pck = await pckCert(w, { ca: { cert: caCert, key } });
  const pckCrl = await issueCrl({
    issuer: caCert,
    issuerKey: key,
    thisUpdate: new Date(w.now.getTime() - 3600_000),
    nextUpdate: new Date(w.now.getTime() + 30 * 86400_000),
    revokedSerials: [],
  });
  const { pckCrlIssuerChain: _chain, ...collateral } = w.collateral;
  return { quote: quoteWithChain(w, [pck, caCert.pem, root.pem]), collateral: { ...collateral, pckCrl } };
}

/** A quote of the platform whose certification data carries `chainText` (PEM, any form) instead. */
export function quoteWithChain(w: SimWorld, chainPems: string[]): Uint8Array {
  const tcb = platformTcbFor(w.p.scenario);
  const qe = new SimQuotingEnclave({
    attestationKey: w.keys.attestation,
    pckKey: w.keys.pck,
    pckChain: chainPems,
    qeId: new Uint8Array(16).fill(3),
    cpuSvn: Uint8Array.from(tcb.sgxTcbComponents),
    isvSvn: tcb.qeIsvSvn,
    macKey: w.keys.macKey,
  });
  return qe.quoteFromTdReport(w.p.report(new Uint8Array(64).fill(7)), { version: 4 });
}

type ParsedQuote = ReturnType<typeof parseQuote>;

/**
 * The quote with its TD report body and/or QE report changed, and re-signed: the QE report by the PCK key,
 * the quote by the attestation key.
 */
export function requote(
  w: SimWorld,
  edit: {
    body?: (r: NonNullable<Extract<ParsedQuote["body"], { kind: "td10" | "td15" }>["report"]>) => void;
    qeReport?: (
      r: NonNullable<ParsedQuote["signatureData"]["qeReportCertificationData"]>["qeReport"],
    ) => void;
  },
  quote = w.quote,
): Uint8Array {
  const q = parseQuote(quote);
  if (q.body.kind === "sgx") throw new Error("TDX quotes only");
  // The parsed report is a view over the quote's bytes: copy every field before editing.
  const src = q.body.report;
  const report = {
    teeTcbSvn: Uint8Array.from(src.teeTcbSvn),
    mrSeam: Uint8Array.from(src.mrSeam),
    mrSignerSeam: Uint8Array.from(src.mrSignerSeam),
    seamAttributes: Uint8Array.from(src.seamAttributes),
    tdAttributes: Uint8Array.from(src.tdAttributes),
    xfam: Uint8Array.from(src.xfam),
    mrTd: Uint8Array.from(src.mrTd),
    mrConfigId: Uint8Array.from(src.mrConfigId),
    mrOwner: Uint8Array.from(src.mrOwner),
    mrOwnerConfig: Uint8Array.from(src.mrOwnerConfig),
    rtmr: src.rtmr.map((x) => Uint8Array.from(x)) as typeof src.rtmr,
    reportData: Uint8Array.from(src.reportData),
    ...(src.teeTcbSvn2 ? { teeTcbSvn2: Uint8Array.from(src.teeTcbSvn2) } : {}),
    ...(src.mrServiceTd ? { mrServiceTd: Uint8Array.from(src.mrServiceTd) } : {}),
  };
  const body = { ...q.body, report } as typeof q.body;
  edit.body?.(report);
  const qe = q.signatureData.qeReportCertificationData!;
  const r = qe.qeReport;
  const qeReport = {
    cpuSvn: Uint8Array.from(r.cpuSvn),
    miscSelect: r.miscSelect,
    reserved1: Uint8Array.from(r.reserved1),
    attributes: Uint8Array.from(r.attributes),
    mrEnclave: Uint8Array.from(r.mrEnclave),
    reserved2: Uint8Array.from(r.reserved2),
    mrSigner: Uint8Array.from(r.mrSigner),
    reserved3: Uint8Array.from(r.reserved3),
    isvProdId: r.isvProdId,
    isvSvn: r.isvSvn,
    reserved4: Uint8Array.from(r.reserved4),
    reportData: Uint8Array.from(r.reportData),
  };
  let qeReportBytes: Uint8Array = Uint8Array.from(qe.qeReportBytes);
  let qeReportSignature: Uint8Array = Uint8Array.from(qe.qeReportSignature);
  if (edit.qeReport) {
    edit.qeReport(qeReport);
    qeReportBytes = encodeSgxReportBody(qeReport);
    qeReportSignature = new Uint8Array(
      sign("sha256", qeReportBytes, { key: w.keys.pck.privateKey, dsaEncoding: "ieee-p1363" }),
    );
  }
  const inner = qe.certificationData;
  const qeData = {
    qeReport,
    qeReportBytes,
    qeReportSignature,
    qeAuthData: Uint8Array.from(qe.qeAuthData),
    certificationData: {
      type: inner.type,
      typeName: inner.typeName,
      size: inner.size,
      data: Uint8Array.from(inner.data),
    },
  };
  const signature = new Uint8Array(
    sign("sha256", encodeQuoteSignedRegion(q.header, body), {
      key: w.keys.attestation.privateKey,
      dsaEncoding: "ieee-p1363",
    }),
  );
  return serializeQuote({
    header: q.header,
    body,
    signatureData: {
      signature,
      attestationKey: Uint8Array.from(q.signatureData.attestationKey),
      qeReportCertificationData: qeData,
      certificationData: {
        type: 6,
        typeName: "QE_REPORT_CERTIFICATION_DATA",
        size: 0,
        data: new Uint8Array(0),
        qeReportCertificationData: qeData,
      },
    } as unknown as Parameters<typeof serializeQuote>[0]["signatureData"],
  });
}

/** The PEM blocks of a chain text. */
export function pemBlocks(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n?/g) ?? [];
}

/** The platform's PCK chain as PEM blocks (PCK, CA, root). */
export function pckChainPems(w: SimWorld): string[] {
  return [w.p.certs.pck.pem, w.p.certs.platformCa.pem, w.p.certs.root.pem];
}

/** What a case expects, in Intel's terms mapped to ours. */
export interface Expectation {
  ok: boolean;
  tcbStatus?: string | null;
  /** Our error code (null when verification passes). */
  code?: string | null;
  collateralExpired?: boolean;
  expiredItems?: string[];
  /** A named check and its state. */
  check?: { name: string; passed: boolean; nonFatal?: boolean };
}

export function verdictOf(r: VerificationResult): Required<Omit<Expectation, "check" | "expiredItems">> {
  return {
    ok: r.ok,
    tcbStatus: r.tcbStatus,
    code: r.error?.code ?? null,
    collateralExpired: r.collateralExpired,
  };
}
