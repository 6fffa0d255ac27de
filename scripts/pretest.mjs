#!/usr/bin/env node
// What `npm test` runs before vitest: the system tools some tests drive, the build (child CLIs run dist/),
// then the three read-only checks side by side: tsc over the tests, eslint and prettier are one process on
// one core each, so on a 2-core machine running them together saves most of the slower ones' time.
// Each check's output is printed whole when it ends, so failures do not interleave.
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const bin = (name) => path.join(root, "node_modules", ".bin", name);

function run(label, command, args, { quiet = false } = {}) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(command, args, {
      cwd: root,
      stdio: quiet ? ["ignore", "pipe", "pipe"] : "inherit",
      shell: process.platform === "win32",
    });
    let output = "";
    child.stdout?.on("data", (d) => (output += d));
    child.stderr?.on("data", (d) => (output += d));
    child.on("error", (error) => (output += `${error.message}\n`));
    child.on("close", (code) => {
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      if (code === 0) process.stdout.write(`pretest: ${label} ok (${seconds} s)\n`);
      else process.stderr.write(`${output}pretest: ${label} FAILED (exit ${code}, ${seconds} s)\n`);
      resolve(code === 0);
    });
  });
}

const sequential = [
  ["test tools", process.execPath, [path.join(root, "scripts", "test-tools.mjs")]],
  ["build", "npm", ["run", "--silent", "build"]],
];
for (const [label, command, args] of sequential) if (!(await run(label, command, args))) process.exit(1);

const checks = await Promise.all([
  run("typecheck of the tests (tsc -p tsconfig.test.json)", bin("tsc"), ["-p", "tsconfig.test.json"], { quiet: true }),
  // The package's own scripts, so their flags and globs live in package.json only.
  run("lint (npm run lint)", "npm", ["run", "--silent", "lint"], { quiet: true }),
  run("format (npm run format:check)", "npm", ["run", "--silent", "format:check"], { quiet: true }),
]);
if (checks.includes(false)) process.exit(1);
