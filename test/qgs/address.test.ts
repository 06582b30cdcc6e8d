import { describe, expect, it } from "vitest";
import type { TdxError } from "../../src/errors.js";
import { formatQgsAddress, parseQgsAddress, VMADDR_CID_ANY } from "../../src/qgs/index.js";

describe("QGS addresses", () => {
  it("parses unix, tcp (incl. IPv6) and vsock, with the client/server default CID", () => {
    expect(parseQgsAddress("unix:/var/run/tdx-qgs/qgs.socket")).toEqual({
      kind: "unix",
      path: "/var/run/tdx-qgs/qgs.socket",
    });
    expect(parseQgsAddress("tcp:127.0.0.1:4050")).toEqual({ kind: "tcp", host: "127.0.0.1", port: 4050 });
    expect(parseQgsAddress("tcp:[::1]:4050")).toEqual({ kind: "tcp", host: "::1", port: 4050 });
    expect(parseQgsAddress("vsock:4050")).toEqual({ kind: "vsock", cid: 2, port: 4050 });
    expect(parseQgsAddress("vsock:4050", VMADDR_CID_ANY)).toEqual({
      kind: "vsock",
      cid: VMADDR_CID_ANY,
      port: 4050,
    });
    expect(parseQgsAddress("vsock:3:4050")).toEqual({ kind: "vsock", cid: 3, port: 4050 });
    for (const s of ["unix:/a", "tcp:h:1", "tcp:[::1]:2", "vsock:3:4"])
      expect(formatQgsAddress(parseQgsAddress(s))).toBe(s);
  });

  it("refuses malformed addresses with a hint", () => {
    for (const bad of ["4050", "unix:", "tcp:host", "tcp:host:99999", "vsock:x", "vsock:1:2:3", "http://x"]) {
      try {
        parseQgsAddress(bad);
        throw new Error(`accepted ${bad}`);
      } catch (e) {
        expect((e as TdxError).code).toBe("QGS_BAD_ADDRESS");
        expect((e as TdxError).hint).toMatch(/unix:/);
      }
    }
  });
});
