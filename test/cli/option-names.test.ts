import type { Command } from "commander";
import { describe, expect, it } from "vitest";
import { withCurrentOptionNames } from "../../src/cli/legacy-options.js";
import { buildProgram } from "../../src/cli/main.js";

const argv = (...args: string[]) => ["node", "tdx-attest", ...args];
const rewritten = (...args: string[]) => withCurrentOptionNames(argv(...args)).slice(2);

function allCommands(c: Command, prefix = ""): [string, Command][] {
  return c.commands.flatMap((s) => {
    const name = `${prefix}${s.name()}`;
    return [[name, s] as [string, Command], ...allCommands(s, `${name} `)];
  });
}

describe("one name per concept across commands", () => {
  it("every command names the simulated platform's folder --sim-state and the quote version --quote-version", () => {
    const seen: string[] = [];
    for (const [name, cmd] of allCommands(buildProgram())) {
      for (const o of cmd.options) {
        expect([`${name}: ${o.long}`]).not.toContain(`${name}: --state`);
        expect([`${name}: ${o.long}`]).not.toContain(`${name}: --sim-dir`);
        expect([`${name}: ${o.long}`]).not.toContain(`${name}: --version`);
        if (o.long === "--sim-state" || o.long === "--quote-version") seen.push(`${name} ${o.long}`);
      }
    }
    for (const c of ["sim init", "sim quote", "qgs serve", "pcs serve", "serve", "get-resource", "quote"])
      expect(seen.some((s) => s.startsWith(`${c} --sim-state`))).toBe(true);
    for (const c of ["sim quote", "demo", "quote", "qgs serve"])
      expect(seen).toContain(`${c} --quote-version`);
  });

  it("the old names stay accepted as hidden aliases", () => {
    expect(rewritten("sim", "init", "--state", "d")).toEqual(["sim", "init", "--sim-state", "d"]);
    expect(rewritten("sim", "quote", "--state=d", "--version", "5")).toEqual([
      "sim",
      "quote",
      "--sim-state=d",
      "--quote-version",
      "5",
    ]);
    expect(rewritten("get-resource", "a/b/c", "--sim-dir", "x")).toEqual([
      "get-resource",
      "a/b/c",
      "--sim-state",
      "x",
    ]);
    expect(rewritten("demo", "--version", "4")).toEqual(["demo", "--quote-version", "4"]);
  });

  it("leaves the program's --version, other commands' options and everything after -- alone", () => {
    expect(rewritten("--version")).toEqual(["--version"]);
    expect(rewritten("verify", "q.bin", "--version")).toEqual(["verify", "q.bin", "--version"]);
    expect(rewritten("kbs", "secret", "put", "--", "--state")).toEqual([
      "kbs",
      "secret",
      "put",
      "--",
      "--state",
    ]);
  });
});
