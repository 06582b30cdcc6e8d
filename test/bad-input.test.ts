import "reflect-metadata";
import { createPublicKey } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as x509 from "@peculiar/x509";
import { FlattenedEncrypt } from "jose";
import { afterAll, describe, expect, it } from "vitest";
import { CollateralCache } from "../src/collateral/cache.js";
import { isErrorCode } from "../src/error-registry.js";
import { isTdxError } from "../src/errors.js";
import { generateTeeKeyPair } from "../src/kbs/client.js";
import { decryptKbsResponse } from "../src/kbs/jwe.js";
import { parseQgsAddress, UNIX_SOCKET_PATH_MAX_BYTES } from "../src/qgs/address.js";
import { FdListener, sockaddrUn, sockaddrVm } from "../src/qgs/fdsocket.js";
import type { Libc } from "../src/qgs/ffi.js";
import { startQgsServer } from "../src/qgs/server.js";
import { integer } from "../src/sim/der.js";
import { initSimPlatform, loadSimPlatform } from "../src/sim/index.js";
import { encodeSgxExtension, type PckExtensionValues } from "../src/sim/pki.js";
import { Verifier, verifyQuote } from "../src/verify/index.js";
import { rejectionOf, tdxErrorOf } from "./helpers/errors.js";

/**
 * Bad input gets a TdxError with a registered code, never another exception: one row per place that threw
 * something else before (issue 18 §6).
 */

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "tdx-bad-input-"));
  dirs.push(d);
  return d;
}

const values: PckExtensionValues = {
  ppid: new Uint8Array(16),
  sgxTcbComponents: new Array(16).fill(1),
  pceSvn: 13,
  cpuSvn: new Uint8Array(16),
  pceId: new Uint8Array(2),
  fmspc: new Uint8Array(6),
  sgxType: 1,
};

const longPath = `/tmp/${"q".repeat(UNIX_SOCKET_PATH_MAX_BYTES)}/qgs.socket`;

describe("bad input throws a TdxError", () => {
  it.each([
    [
      "sim/pki: an SGX extension with 15 SVNs",
      () => encodeSgxExtension({ ...values, sgxTcbComponents: values.sgxTcbComponents.slice(1) }),
      "SIM_PCK_EXTENSION_INVALID",
      "sgxTcbComponents",
    ],
    [
      "sim/pki: a negative SVN",
      () => encodeSgxExtension({ ...values, sgxTcbComponents: [1, 1, 1, -1, ...new Array(12).fill(1)] }),
      "SIM_PCK_EXTENSION_INVALID",
      "sgxTcbComponents[3]",
    ],
    [
      "sim/pki: a fractional PCESVN",
      () => encodeSgxExtension({ ...values, pceSvn: 1.5 }),
      "SIM_PCK_EXTENSION_INVALID",
      "pceSvn",
    ],
    ["sim/der: a negative INTEGER", () => integer(-1), "SIM_DER_VALUE_INVALID", "integer"],
    [
      "qgs/address: a unix socket path over 107 bytes",
      () => parseQgsAddress(`unix:${longPath}`),
      "QGS_SOCKET_PATH_TOO_LONG",
      "address",
    ],
    [
      "qgs/fdsocket: sockaddr_un of a too-long path",
      () => sockaddrUn(longPath),
      "QGS_SOCKET_PATH_TOO_LONG",
      "address",
    ],
    [
      "qgs/fdsocket: a vsock listener whose socket() fails",
      () =>
        FdListener.listen(
          { socket: () => -1, errno: () => 97 } as unknown as Libc,
          sockaddrVm(1, 0),
          () => {},
        ),
      "QGS_LISTEN_FAILED",
      undefined,
    ],
    [
      "verify/verifier: trustAnchors that is not an array",
      () => new Verifier({ trustAnchors: "root.pem" as unknown as string[] }),
      "TRUST_ANCHOR_INVALID",
      "trustAnchors",
    ],
    [
      "verify/verifier: a null trust anchor",
      () => new Verifier({ trustAnchors: [null as unknown as string] }),
      "TRUST_ANCHOR_INVALID",
      "trustAnchors[0]",
    ],
  ])("%s", (_what, f, code, field) => {
    const e = tdxErrorOf(f);
    expect(e.code).toBe(code);
    expect(isErrorCode(e.code)).toBe(true);
    if (field !== undefined) expect(e.field).toBe(field);
    expect(e.hint).toBeTruthy();
  });

  it("qgs: the too-long path names the limit, and a server is not started on the path cut short", async () => {
    const e = tdxErrorOf(() => parseQgsAddress(`unix:${longPath}`));
    expect(e.data).toMatchObject({ max: 107, bytes: new TextEncoder().encode(longPath).length });
    expect(e.message).toContain("107");
    const server = await rejectionOf(
      startQgsServer({ listen: { kind: "unix", path: longPath }, backend: {} as never }),
    );
    expect(server.code).toBe("QGS_SOCKET_PATH_TOO_LONG");
  });

  it("verify/verifier: the shared verifier reports bad anchors and an unreadable time in the result", () => {
    const quote = new Uint8Array(10);
    const bad = verifyQuote(quote, {} as never, { now: 1, trustAnchors: "x" as unknown as string[] });
    expect(bad.error).toMatchObject({ code: "TRUST_ANCHOR_INVALID", field: "trustAnchors" });
    const nulls = verifyQuote(quote, {} as never, { now: 1, trustAnchors: [null as unknown as string] });
    expect(nulls.error).toMatchObject({ code: "TRUST_ANCHOR_INVALID", field: "trustAnchors[0]" });
    const time = verifyQuote(quote, {} as never, {
      get now(): number {
        throw new TypeError("no clock here");
      },
    });
    expect(time.error).toMatchObject({ code: "VERIFY_TIME_INVALID", field: "now" });
  });

  it("collateral/cache: a fetcher that throws a TypeError fails as COLLATERAL_FETCH_FAILED, also when remembered", async () => {
    const cache = new CollateralCache();
    const fetcher = async () => {
      throw new TypeError("fetch is not a function");
    };
    const first = await rejectionOf(cache.get("tdx/tcb/00906ED50000/standard", fetcher, 1_000_000));
    expect(first.code).toBe("COLLATERAL_FETCH_FAILED");
    expect(first.cause).toBeInstanceOf(TypeError);
    const again = await rejectionOf(cache.get("tdx/tcb/00906ED50000/standard", fetcher, 1_001_000));
    expect(again.code).toBe("COLLATERAL_FETCH_FAILED");
    expect(again.message).toMatch(/remembered/);
  });

  it("kbs/jwe: a response not encrypted with A256GCM is KBS_RESPONSE_DECRYPT_FAILED", async () => {
    const tee = generateTeeKeyPair("ec");
    const jwe = await new FlattenedEncrypt(new TextEncoder().encode("secret"))
      .setProtectedHeader({ alg: "ECDH-ES+A256KW", enc: "A128GCM" })
      .encrypt(createPublicKey(tee.privateKey));
    const e = await rejectionOf(decryptKbsResponse(jwe, tee.privateKey));
    expect(e.code).toBe("KBS_RESPONSE_DECRYPT_FAILED");
  });

  it("sim/platform: a state certificate without a subject key identifier is SIM_STATE_INVALID naming the file", async () => {
    const dir = tempDir();
    await initSimPlatform(dir);
    const keys = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
      "sign",
      "verify",
    ]);
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: "01",
      name: "CN=Intel SGX PCK Certificate",
      notBefore: new Date("2025-01-01"),
      notAfter: new Date("2035-01-01"),
      keys,
      signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
      extensions: [],
    });
    writeFileSync(join(dir, "pck.pem"), cert.toString("pem"));
    const e = await rejectionOf(loadSimPlatform(dir));
    expect(e.code).toBe("SIM_STATE_INVALID");
    expect(e.message).toMatch(/pck\.pem has no subject key identifier/);
    expect(isTdxError(e)).toBe(true);
  });
});
