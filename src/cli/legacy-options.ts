/**
 * One name per concept across every command: the simulated platform's folder is `--sim-state`, the quote
 * version `--quote-version`. The names some commands used before (`--state`, `--sim-dir`; `--version` in
 * `sim quote` and `demo`) stay accepted as hidden aliases: they are rewritten here, before parsing, so no
 * command defines them and no help text shows them.
 */
const RENAMED: Record<string, string> = { "--state": "--sim-state", "--sim-dir": "--sim-state" };

/** Commands where `--version` after the command named the quote version. */
const QUOTE_VERSION_COMMANDS = ["sim quote", "demo"];

/** `argv` as Node gives it (node, script, args...) with the old option names replaced by the current ones. */
export function withCurrentOptionNames(argv: string[]): string[] {
  const out = argv.slice(0, 2);
  const positionals: string[] = [];
  let rest = false;
  for (const arg of argv.slice(2)) {
    if (rest || !arg.startsWith("--")) {
      if (!arg.startsWith("-")) positionals.push(arg);
      out.push(arg);
      continue;
    }
    if (arg === "--") {
      rest = true;
      out.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = eq < 0 ? arg : arg.slice(0, eq);
    const value = eq < 0 ? "" : arg.slice(eq);
    let current = RENAMED[name];
    if (name === "--version" && positionals.length > 0) {
      const path = positionals.slice(0, 2).join(" ");
      if (QUOTE_VERSION_COMMANDS.some((c) => path === c || path.startsWith(`${c} `) || positionals[0] === c))
        current = "--quote-version";
    }
    out.push(current ? current + value : arg);
  }
  return out;
}
