// Writes docs/errors.md from the error tables (src/<folder>/error-codes.ts), read from the build:
//   npm run build && node scripts/errors-doc.mjs
// test/errors.test.ts renders the same text from the sources and fails when the file differs.
import { writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const { errorsMarkdown, registeredErrors } = await import(join(root, "dist", "error-registry.js"));
writeFileSync(join(root, "docs", "errors.md"), errorsMarkdown());
process.stdout.write(`docs/errors.md: ${registeredErrors().length} error codes\n`);
