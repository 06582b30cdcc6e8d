import {
  createHash,
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  randomBytes,
  webcrypto,
} from "node:crypto";
import { createRequire } from "node:module";
import type * as X509 from "@peculiar/x509";
import { newKeyPair } from "../crypto/keygen.js";
import { hexOf } from "../encoding.js";
import { TdxError } from "../errors.js";
import { bitString, boolean, enumerated, integer, octetString, oid, sequence, tlv } from "./der.js";

/**
 * The simulated Intel PKI: a root CA, the Platform and Processor PCK CAs, PCK leaf certificates with
 * Intel's SGX extension, the TCB Signing certificate and the CRLs. Subjects, extensions, their order,
 * key usages and validity periods copy Intel's certificates byte for byte in shape (Intel's QVL compares
 * the CA subjects literally), so a simulated chain differs from Intel's only in its keys, serials and
 * dates: it is trusted only by a verifier that is handed the simulated root as its anchor.
 */

const require = createRequire(import.meta.url);
let x509Lib: typeof X509 | undefined;

/**
 * @peculiar/x509 (with reflect-metadata, which it needs first), loaded when the simulator first issues a
 * certificate or a CRL: importing tdx-attest, or verifying, must not pay for a certificate builder.
 */
function x509(): typeof X509 {
  if (!x509Lib) {
    require("reflect-metadata");
    const lib = require("@peculiar/x509") as typeof X509;
    lib.cryptoProvider.set(webcrypto as unknown as Crypto);
    x509Lib = lib;
  }
  return x509Lib;
}

const ECDSA_SHA256 = { name: "ECDSA", hash: "SHA-256" } as const;

/** Intel's distinguished names (UTF8String except C, a PrintableString). */
export const INTEL_CN = {
  root: "Intel SGX Root CA",
  platformCa: "Intel SGX PCK Platform CA",
  processorCa: "Intel SGX PCK Processor CA",
  pck: "Intel SGX PCK Certificate",
  tcbSigning: "Intel SGX TCB Signing",
} as const;

export function intelName(cn: string): X509.Name {
  return new (x509().Name)([
    { "2.5.4.3": [{ utf8String: cn }] },
    { "2.5.4.10": [{ utf8String: "Intel Corporation" }] },
    { "2.5.4.7": [{ utf8String: "Santa Clara" }] },
    { "2.5.4.8": [{ utf8String: "CA" }] },
    { "2.5.4.6": [{ printableString: "US" }] },
  ]);
}

/** Intel's CRL distribution points, kept verbatim (the simulated PCS server serves the same paths). */
export const ROOT_CRL_URL = "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der";
export function pckCrlUrl(ca: "platform" | "processor"): string {
  return `https://api.trustedservices.intel.com/sgx/certification/v3/pckcrl?ca=${ca}&encoding=der`;
}

/** An ECDSA P-256 key of the simulated platform, kept as PKCS#8 DER plus node KeyObjects. */
export interface SimKey {
  pkcs8: Uint8Array;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** Uncompressed point without the 0x04 prefix (x||y), as quotes carry attestation keys. */
  rawPublic: Uint8Array;
}

export function generateSimKey(): SimKey {
  const { privateKey } = newKeyPair({ type: "ec", namedCurve: "P-256" });
  return simKeyFromPkcs8(new Uint8Array(privateKey.export({ format: "der", type: "pkcs8" })));
}

export function simKeyFromPkcs8(pkcs8: Uint8Array, name = "key"): SimKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: Buffer.from(pkcs8), format: "der", type: "pkcs8" });
  } catch (e) {
    throw new TdxError("SIM_KEY_INVALID", `${name} is not a PKCS#8 private key`, {
      field: name,
      cause: e,
      hint: "re-create the simulated platform with `tdx-attest sim init --sim-state DIR`",
    });
  }
  const details = privateKey.asymmetricKeyDetails;
  if (privateKey.asymmetricKeyType !== "ec" || details?.namedCurve !== "prime256v1") {
    throw new TdxError("SIM_KEY_INVALID", `${name} is not an ECDSA P-256 key`, {
      field: name,
      hint: "the simulated platform uses ECDSA P-256 keys only; re-create it with `tdx-attest sim init`",
    });
  }
  const publicKey = createPublicKey(privateKey);
  const spki = new Uint8Array(publicKey.export({ format: "der", type: "spki" }));
  // The last 65 bytes of a P-256 SPKI are the uncompressed point 04||x||y.
  const rawPublic = spki.slice(spki.length - 64);
  return { pkcs8, privateKey, publicKey, rawPublic };
}

const imported = new WeakMap<SimKey, Promise<{ priv: CryptoKey; pub: CryptoKey }>>();

/** WebCrypto handles of a key (imported once per key: @peculiar/x509 signs through WebCrypto). */
function cryptoKeys(k: SimKey): Promise<{ priv: CryptoKey; pub: CryptoKey }> {
  let p = imported.get(k);
  if (!p) {
    p = importKeys(k);
    imported.set(k, p);
  }
  return p;
}

async function importKeys(k: SimKey): Promise<{ priv: CryptoKey; pub: CryptoKey }> {
  const alg = { name: "ECDSA", namedCurve: "P-256" };
  const priv = (await webcrypto.subtle.importKey("pkcs8", k.pkcs8, alg, false, ["sign"])) as CryptoKey;
  const spki = new Uint8Array(k.publicKey.export({ format: "der", type: "spki" }));
  const pub = (await webcrypto.subtle.importKey("spki", spki, alg, true, ["verify"])) as CryptoKey;
  return { priv, pub };
}

/** A 20-byte certificate serial with its top byte non-zero (Intel's serials are 20 random bytes). */
export function randomSerial(): Uint8Array {
  const s = new Uint8Array(randomBytes(20));
  if (s[0] === 0) s[0] = 1;
  return s;
}

// Extension values, built to Intel's exact encodings.
const OID_AKI = "2.5.29.35";
const OID_SKI = "2.5.29.14";
const OID_KU = "2.5.29.15";
const OID_BC = "2.5.29.19";
const OID_CRLDP = "2.5.29.31";
const OID_CRL_NUMBER = "2.5.29.20";
export const OID_SGX_EXTENSION = "1.2.840.113741.1.13.1";

function ext(type: string, critical: boolean, value: Uint8Array): X509.Extension {
  return new (x509().Extension)(type, critical, Uint8Array.from(value));
}
function akiExt(keyId: Uint8Array): X509.Extension {
  return ext(OID_AKI, false, sequence(tlv(0x80, keyId)));
}
function skiExt(keyId: Uint8Array): X509.Extension {
  return ext(OID_SKI, false, octetString(keyId));
}
function crlDpExt(url: string): X509.Extension {
  const uri = tlv(0x86, new Uint8Array(Buffer.from(url, "ascii")));
  return ext(OID_CRLDP, false, sequence(sequence(tlv(0xa0, tlv(0xa0, uri)))));
}
/** keyCertSign|cRLSign (CAs) or digitalSignature|nonRepudiation (PCK, TCB Signing). */
function keyUsageExt(ca: boolean): X509.Extension {
  return ext(OID_KU, true, ca ? bitString(Uint8Array.of(0x06), 1) : bitString(Uint8Array.of(0xc0), 6));
}
function basicConstraintsExt(pathLen: number | null): X509.Extension {
  return ext(OID_BC, true, pathLen === null ? sequence() : sequence(boolean(true), integer(pathLen)));
}

/** What goes into the PCK certificate's SGX extension (OID 1.2.840.113741.1.13.1). */
export interface PckExtensionValues {
  ppid: Uint8Array;
  /** The 16 SGX TCB component SVNs. */
  sgxTcbComponents: number[];
  pceSvn: number;
  cpuSvn: Uint8Array;
  pceId: Uint8Array;
  fmspc: Uint8Array;
  /** 0 Standard, 1 Scalable, 2 ScalableWithIntegrity. */
  sgxType: number;
  /** Platform-CA certificates only. */
  platformInstanceId?: Uint8Array;
  /** Platform-CA certificates only. */
  configuration?: { dynamicPlatform: boolean; cachedKeys: boolean; smtEnabled: boolean };
}

function sgxOid(suffix: string): Uint8Array {
  return oid(`${OID_SGX_EXTENSION}.${suffix}`);
}

function badExtension(field: string, message: string, hint: string): TdxError {
  return new TdxError("SIM_PCK_EXTENSION_INVALID", `PCK SGX extension ${field}: ${message}`, { field, hint });
}

/**
 * The numbers of the SGX extension must be DER INTEGERs (whole, not negative) and the TCB has 16 SVNs; past
 * that the values are taken as given (Intel's reader takes any, see test/crypto/qvl-leniency.test.ts).
 */
function checkPckExtensionValues(v: PckExtensionValues): void {
  const svns: unknown = v.sgxTcbComponents;
  if (!Array.isArray(svns) || svns.length !== 16)
    throw badExtension(
      "sgxTcbComponents",
      `${Array.isArray(svns) ? svns.length : typeof svns} SVNs given, 16 are required`,
      "give the 16 SGX TCB component SVNs (0..255 each)",
    );
  const whole = (n: unknown): boolean => Number.isInteger(n) && (n as number) >= 0;
  svns.forEach((svn, i) => {
    if (!whole(svn))
      throw badExtension(
        `sgxTcbComponents[${i}]`,
        `${String(svn)} is not an SVN`,
        "an SVN is a whole number 0..255",
      );
  });
  if (!whole(v.pceSvn))
    throw badExtension(
      "pceSvn",
      `${String(v.pceSvn)} is not a PCESVN`,
      "a PCESVN is a whole number 0..65535",
    );
  if (!whole(v.sgxType))
    throw badExtension(
      "sgxType",
      `${String(v.sgxType)} is not an SGX type`,
      "0 Standard, 1 Scalable, 2 ScalableWithIntegrity",
    );
}

/** DER of Intel's SGX extension: SEQUENCE of SEQUENCE{OID, value}, 5 entries (Processor CA) or 7 (Platform CA). */
export function encodeSgxExtension(v: PckExtensionValues): Uint8Array {
  checkPckExtensionValues(v);
  const tcbItems = v.sgxTcbComponents.map((svn, i) => sequence(sgxOid(`2.${i + 1}`), integer(svn)));
  tcbItems.push(sequence(sgxOid("2.17"), integer(v.pceSvn)));
  tcbItems.push(sequence(sgxOid("2.18"), octetString(v.cpuSvn)));
  const entries = [
    sequence(sgxOid("1"), octetString(v.ppid)),
    sequence(sgxOid("2"), sequence(...tcbItems)),
    sequence(sgxOid("3"), octetString(v.pceId)),
    sequence(sgxOid("4"), octetString(v.fmspc)),
    sequence(sgxOid("5"), enumerated(v.sgxType)),
  ];
  if (v.platformInstanceId) entries.push(sequence(sgxOid("6"), octetString(v.platformInstanceId)));
  if (v.configuration) {
    const c = v.configuration;
    entries.push(
      sequence(
        sgxOid("7"),
        sequence(
          sequence(sgxOid("7.1"), boolean(c.dynamicPlatform)),
          sequence(sgxOid("7.2"), boolean(c.cachedKeys)),
          sequence(sgxOid("7.3"), boolean(c.smtEnabled)),
        ),
      ),
    );
  }
  return sequence(...entries);
}

/** Subject key identifier of a leaf: SHA-1 of the public key point (RFC 5280 method 1). */
export function keyIdOf(k: SimKey): Uint8Array {
  return new Uint8Array(
    createHash("sha1")
      .update(Buffer.from([4, ...k.rawPublic]))
      .digest(),
  );
}

export interface IssuedCert {
  pem: string;
  der: Uint8Array;
  serial: Uint8Array;
  /** The subject key identifier (Intel's CAs use their serial number). */
  keyId: Uint8Array;
  cn: string;
}

function toIssued(cert: X509.X509Certificate, serial: Uint8Array, keyId: Uint8Array, cn: string): IssuedCert {
  return { pem: `${cert.toString("pem")}\n`, der: new Uint8Array(cert.rawData), serial, keyId, cn };
}

interface CertParams {
  cn: string;
  serial: Uint8Array;
  keyId: Uint8Array;
  key: SimKey;
  issuer: { cn: string; key: SimKey; keyId: Uint8Array } | null;
  notBefore: Date;
  notAfter: Date;
  crlUrl: string;
  ca: boolean;
  pathLen: number | null;
  extra?: X509.Extension[];
}

async function issue(p: CertParams): Promise<IssuedCert> {
  const issuerKey = p.issuer?.key ?? p.key;
  const issuerKeyId = p.issuer?.keyId ?? p.keyId;
  const { pub } = await cryptoKeys(p.key);
  const { priv } = await cryptoKeys(issuerKey);
  const cert = await x509().X509CertificateGenerator.create({
    serialNumber: hexOf(p.serial),
    subject: intelName(p.cn),
    issuer: intelName(p.issuer?.cn ?? p.cn),
    notBefore: p.notBefore,
    notAfter: p.notAfter,
    publicKey: pub,
    signingKey: priv,
    signingAlgorithm: ECDSA_SHA256,
    extensions: [
      akiExt(issuerKeyId),
      crlDpExt(p.crlUrl),
      skiExt(p.keyId),
      keyUsageExt(p.ca),
      basicConstraintsExt(p.pathLen),
      ...(p.extra ?? []),
    ],
  });
  return toIssued(cert, p.serial, p.keyId, p.cn);
}

function addYears(d: Date, years: number): Date {
  const out = new Date(d.getTime());
  out.setUTCFullYear(out.getUTCFullYear() + years);
  return out;
}
/** Certificates carry whole seconds. */
export function wholeSeconds(d: Date): Date {
  return new Date(Math.floor(d.getTime() / 1000) * 1000);
}

/** The keys of the simulated Intel PKI. */
export interface PkiKeys {
  root: SimKey;
  platformCa: SimKey;
  processorCa: SimKey;
  tcbSigning: SimKey;
}

export interface PkiCerts {
  root: IssuedCert;
  platformCa: IssuedCert;
  processorCa: IssuedCert;
  tcbSigning: IssuedCert;
}

/** Issue the root, the two PCK CAs and the TCB Signing certificate, with Intel's lifetimes. */
export async function issuePki(keys: PkiKeys, at: Date): Promise<PkiCerts> {
  const notBefore = wholeSeconds(at);
  const rootSerial = randomSerial();
  const root = await issue({
    cn: INTEL_CN.root,
    serial: rootSerial,
    keyId: rootSerial,
    key: keys.root,
    issuer: null,
    notBefore,
    notAfter: new Date(Date.UTC(2049, 11, 31, 23, 59, 59)),
    crlUrl: ROOT_CRL_URL,
    ca: true,
    pathLen: 1,
  });
  const rootIssuer = { cn: INTEL_CN.root, key: keys.root, keyId: root.keyId };
  const caCert = async (cn: string, key: SimKey) => {
    const serial = randomSerial();
    return issue({
      cn,
      serial,
      keyId: serial,
      key,
      issuer: rootIssuer,
      notBefore,
      notAfter: addYears(notBefore, 15),
      crlUrl: ROOT_CRL_URL,
      ca: true,
      pathLen: 0,
    });
  };
  const platformCa = await caCert(INTEL_CN.platformCa, keys.platformCa);
  const processorCa = await caCert(INTEL_CN.processorCa, keys.processorCa);
  const tcbSerial = randomSerial();
  const tcbSigning = await issue({
    cn: INTEL_CN.tcbSigning,
    serial: tcbSerial,
    keyId: tcbSerial,
    key: keys.tcbSigning,
    issuer: rootIssuer,
    notBefore,
    notAfter: addYears(notBefore, 7),
    crlUrl: ROOT_CRL_URL,
    ca: false,
    pathLen: null,
  });
  return { root, platformCa, processorCa, tcbSigning };
}

/** Issue a PCK leaf certificate under the Platform or Processor CA. */
export async function issuePckCert(opts: {
  key: SimKey;
  ca: "platform" | "processor";
  caCert: IssuedCert;
  caKey: SimKey;
  values: PckExtensionValues;
  at: Date;
}): Promise<IssuedCert> {
  const notBefore = wholeSeconds(opts.at);
  return issue({
    cn: INTEL_CN.pck,
    serial: randomSerial(),
    keyId: keyIdOf(opts.key),
    key: opts.key,
    issuer: { cn: opts.caCert.cn, key: opts.caKey, keyId: opts.caCert.keyId },
    notBefore,
    notAfter: addYears(notBefore, 7),
    crlUrl: pckCrlUrl(opts.ca),
    ca: false,
    pathLen: null,
    extra: [ext(OID_SGX_EXTENSION, false, encodeSgxExtension(opts.values))],
  });
}

/** Issue a CRL with Intel's shape: v2, CRL Number 1 and the issuer's AKI, keyCompromise entries. */
export async function issueCrl(opts: {
  issuer: IssuedCert;
  issuerKey: SimKey;
  thisUpdate: Date;
  nextUpdate: Date;
  revokedSerials: Uint8Array[];
}): Promise<Uint8Array> {
  const { priv } = await cryptoKeys(opts.issuerKey);
  const thisUpdate = wholeSeconds(opts.thisUpdate);
  const crl = await x509().X509CrlGenerator.create({
    issuer: intelName(opts.issuer.cn),
    thisUpdate,
    nextUpdate: wholeSeconds(opts.nextUpdate),
    signingAlgorithm: ECDSA_SHA256,
    signingKey: priv,
    extensions: [ext(OID_CRL_NUMBER, false, integer(1)), akiExt(opts.issuer.keyId)],
    entries: opts.revokedSerials.map((s) => ({
      serialNumber: hexOf(s),
      revocationDate: thisUpdate,
      reason: x509().X509CrlReason.keyCompromise,
    })),
  });
  return new Uint8Array(crl.rawData);
}
