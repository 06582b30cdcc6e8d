import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { TdReportBody } from "../../src/abi/types.js";
import {
  checkInitDataBinding,
  initDataMrConfigId,
  parseInitDataToml,
  readInitData,
} from "../../src/attest/index.js";
import { tdxErrorOf } from "../helpers/errors.js";
import { projectRoot } from "../helpers/vectors.js";

const COCO = readFileSync(join(projectRoot, "test/fixtures/init-data/coco.toml"), "utf8");

describe("init-data (Trustee's binding to MRCONFIGID)", () => {
  it("reads a confidential-containers document: entries as written, digest over the raw bytes", () => {
    const d = readInitData({ format: "toml", body: COCO });
    expect(d.algorithm).toBe("sha384");
    expect(d.version).toBe("0.1.0");
    expect(Object.keys(d.data)).toEqual(["aa.toml", "cdh.toml", "policy.rego"]);
    // ''' strings: the newline after the opening delimiter is trimmed, the rest is kept as it is.
    expect(d.data["aa.toml"]).toBe(
      '[token_configs]\n[token_configs.coco_as]\nurl = "http://127.0.0.1:8080"\n\n[token_configs.kbs]\nurl = "http://127.0.0.1:8080"\n',
    );
    expect(d.data["policy.rego"]).toMatch(/^package agent_policy\n/);
    expect(Buffer.from(d.digest).toString("hex")).toBe(createHash("sha384").update(COCO).digest("hex"));
  });

  it("pads a SHA-256 digest to 48 bytes and cuts a SHA-512 one, as Trustee's regularize_data", () => {
    const body256 = 'algorithm = "sha256"\nversion = "0.1.0"\n[data]\nkey = "value"\n';
    const d256 = readInitData({ format: "toml", body: body256 });
    expect(d256.digest.length).toBe(32);
    expect([...initDataMrConfigId(d256.digest).subarray(32)]).toEqual(new Array(16).fill(0));
    const d512 = readInitData({ format: "toml", body: body256.replace("sha256", "sha512") });
    expect(
      Buffer.from(initDataMrConfigId(d512.digest)).equals(Buffer.from(d512.digest.subarray(0, 48))),
    ).toBe(true);
  });

  it("parses TOML strings in all four forms and refuses what init-data does not use", () => {
    const doc = parseInitDataToml(
      [
        "# comment",
        'a = "x\\ty\\u00e9" # trailing comment',
        "b = 'C:\\\\path'",
        'c = """',
        "line one \\",
        '   continued"""',
        "[data]",
        "'quoted key' = '''",
        "it's ''two''",
        "'''",
      ].join("\n"),
    );
    expect(doc.a).toBe("x\tyé");
    expect(doc.b).toBe("C:\\\\path");
    expect(doc.c).toBe("line one continued");
    expect((doc.data as Record<string, string>)["quoted key"]).toBe("it's ''two''\n");
    for (const bad of ["n = 1", "a.b = 'x'", "[[x]]", "k = 'unterminated", "k = 'x' 'y'", "a = 'x'\na = 'y'"])
      expect(tdxErrorOf(() => parseInitDataToml(bad)).code).toBe("INIT_DATA_TOML_INVALID");
  });

  it("refuses other formats and algorithms with a hint", () => {
    expect(tdxErrorOf(() => readInitData({ format: "json", body: "{}" })).code).toBe("INIT_DATA_INVALID");
    expect(
      tdxErrorOf(() => readInitData({ format: "toml", body: 'algorithm = "md5"\nversion = "0.1.0"\n' })).code,
    ).toBe("INIT_DATA_INVALID");
  });

  it("compares the padded digest with MRCONFIGID and names both values when they differ", () => {
    const d = readInitData({ format: "toml", body: COCO });
    const report = { mrConfigId: initDataMrConfigId(d.digest) } as TdReportBody;
    expect(() => checkInitDataBinding(report, d)).not.toThrow();
    const e = tdxErrorOf(() => checkInitDataBinding({ mrConfigId: new Uint8Array(48) } as TdReportBody, d));
    expect(e.code).toBe("ATTEST_INIT_DATA_MISMATCH");
    expect(e.data?.expected).toBe(Buffer.from(initDataMrConfigId(d.digest)).toString("hex"));
    expect(e.data?.actual).toBe("00".repeat(48));
    expect(e.message).toContain("MRCONFIGID = ");
  });
});
