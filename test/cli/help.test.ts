import type { Command } from "commander";
import { describe, expect, it } from "vitest";
import { buildProgram } from "../../src/cli/main.js";

function allCommands(c: Command, prefix = ""): [string, Command][] {
  return c.commands.flatMap((s) => {
    const name = `${prefix}${s.name()}`;
    return [[name, s] as [string, Command], ...allCommands(s, `${name} `)];
  });
}

describe("--help", () => {
  it("every command and subcommand says what it does", () => {
    const empty = allCommands(buildProgram())
      .filter(([, c]) => c.description().trim() === "")
      .map(([n]) => n);
    expect(empty).toEqual([]);
  });
});
