import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initDataMrConfigId, readInitData } from "../../src/attest/index.js";
import { KbsClient } from "../../src/kbs/client.js";
import { createSimPlatform, defaultTdDescription, type SimPlatform } from "../../src/sim/index.js";
import { runCli } from "../helpers/cli.js";
import { rejectionOf } from "../helpers/errors.js";
import { projectRoot } from "../helpers/vectors.js";
import { spawnBroker } from "../kbs/spawn-broker.js";
import { simSource, startSimBroker } from "./sim-broker.js";

const DOC = readFileSync(join(projectRoot, "test/fixtures/init-data/coco.toml"), "utf8");
const MRCONFIGID = Buffer.from(
  initDataMrConfigId(readInitData({ format: "toml", body: DOC }).digest),
).toString("hex");
type Claims = { submods: { cpu0: Record<string, Record<string, unknown>> } };
const annotated = (token: string) =>
  (JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()) as Claims).submods.cpu0[
    "ear.veraison.annotated-evidence"
  ]!;

describe.each(["sqlite", "postgres"] as const)("init-data over HTTP (%s)", (backend) => {
  let bound: SimPlatform;
  let plain: SimPlatform;
  let broker: Awaited<ReturnType<typeof startSimBroker>>;

  beforeAll(async () => {
    bound = await createSimPlatform({ td: { ...defaultTdDescription(), mrConfigId: MRCONFIGID } });
    plain = await createSimPlatform();
    broker = await startSimBroker(backend, [bound, plain]);
    await broker.service.putResource("default/key/any", new Uint8Array([1]));
    // A release rule over the init-data entries: only pods with this agent policy get the key.
    await broker.service.putPolicy(
      "resource",
      "agent-policy",
      JSON.stringify({
        rules: [
          {
            claim: "init_data_claims/policy.rego",
            matches: "[\\s\\S]*default ExecProcessRequest := false[\\s\\S]*",
          },
          { claim: "init_data", equals: createHash("sha384").update(DOC).digest("hex") },
        ],
      }),
    );
    await broker.service.putResource("default/key/pod", new Uint8Array([2]), { policyId: "agent-policy" });
  });
  afterAll(async () => broker?.close());

  it("binds the document to MRCONFIGID and puts its entries in the token as init_data_claims", async () => {
    const { secret, token } = await new KbsClient({ url: broker.url }).getResource(
      "default/key/pod",
      simSource(bound),
      { initData: DOC },
    );
    expect([...secret]).toEqual([2]);
    const ae = annotated(token);
    expect(ae.init_data).toBe(createHash("sha384").update(DOC).digest("hex"));
    expect(Object.keys(ae.init_data_claims as object)).toEqual(["aa.toml", "cdh.toml", "policy.rego"]);
    expect((ae.tdx as { quote: { body: { mr_config_id: string } } }).quote.body.mr_config_id).toBe(
      MRCONFIGID,
    );
  });

  it("refuses a document that is not the TD's MRCONFIGID, naming both values", async () => {
    const other = DOC.replace("ExecProcessRequest := false", "ExecProcessRequest := true");
    const e = await rejectionOf(
      new KbsClient({ url: broker.url }).getResource("default/key/any", simSource(bound), {
        initData: other,
      }),
    );
    expect(e.code).toBe("KBS_INIT_DATA_MISMATCH");
    expect(e.data?.status).toBe(401);
    expect(e.data?.actual).toBe(MRCONFIGID);
    expect(e.data?.expected).toBe(
      Buffer.from(initDataMrConfigId(readInitData({ format: "toml", body: other }).digest)).toString("hex"),
    );
  });

  it("records MRCONFIGID as it is when no init-data is sent; a policy on init-data entries then refuses", async () => {
    const { token } = await new KbsClient({ url: broker.url }).getResource(
      "default/key/any",
      simSource(plain),
    );
    expect(annotated(token).init_data).toBe("00".repeat(48));
    expect(annotated(token).init_data_claims).toBeUndefined();
    const e = await rejectionOf(
      new KbsClient({ url: broker.url }).getResource("default/key/pod", simSource(bound)),
    );
    expect(e.code).toBe("KBS_RESOURCE_POLICY_DENIED");
  });

  it("refuses an init-data document it cannot read with 400", async () => {
    const e = await rejectionOf(
      new KbsClient({ url: broker.url }).getResource("default/key/any", simSource(bound), {
        initData: "algorithm = 384\n",
      }),
    );
    expect(e.code).toBe("INIT_DATA_TOML_INVALID");
    expect(e.data?.status).toBe(400);
  });
});

describe("init-data through the CLI: sim init --init-data, get-resource --init-data", () => {
  let dir: string;
  let broker: Awaited<ReturnType<typeof spawnBroker>> | undefined;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "kbs-initdata-cli-"));
  });
  afterAll(async () => {
    await broker?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a simulated TD launched with the document gets the key only when it sends that document", async () => {
    const doc = join(projectRoot, "test/fixtures/init-data/coco.toml");
    const sim = join(dir, "sim");
    expect(runCli(["sim", "init", "--state", sim, "--init-data", doc]).status).toBe(0);
    broker = await spawnBroker(["--data", join(dir, "data"), "--sim-dir", sim]);
    const get = (extra: string[]) =>
      runCli([
        "get-resource",
        "default/disk/key",
        "--kbs",
        broker!.url,
        "--provider",
        "sim",
        "--sim-dir",
        sim,
        ...extra,
      ]);
    const ok = get(["--init-data", doc]);
    expect(ok.stderr).not.toMatch(/error/);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/^[0-9a-f]{64}$/);
    const wrong = join(dir, "other.toml");
    const { writeFileSync } = await import("node:fs");
    writeFileSync(wrong, readFileSync(doc, "utf8").replace("sha384", "sha512"));
    const refused = get(["--init-data", wrong]);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/KBS_INIT_DATA_MISMATCH/);
  });
});
