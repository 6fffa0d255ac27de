#!/usr/bin/env node
// Installs the system tools some tests drive for real (haproxy for the load-balancer e2e test, nginx for
// `nginx -t`), so that a fresh machine's `npm test` runs those tests instead of skipping them.
// Best effort: only with apt-get as root; otherwise it says which tests will skip and how to get them.
import { spawnSync } from "node:child_process";

const TOOLS = [
  { command: "haproxy", aptPackage: "haproxy", tests: "test/e2e/lb-haproxy.test.ts, haproxy -c in test/lb" },
  { command: "nginx", aptPackage: "nginx-light", tests: "nginx -t in test/lb" },
];

const has = (command) => spawnSync("sh", ["-c", `command -v ${command} || test -x /usr/sbin/${command}`], { stdio: "ignore" }).status === 0;
const missing = TOOLS.filter((t) => !has(t.command));
if (missing.length === 0) process.exit(0);

const canApt = process.getuid?.() === 0 && has("apt-get");
if (canApt) {
  const packages = missing.map((t) => t.aptPackage);
  console.log(`test-tools: installing ${packages.join(", ")} (apt-get) for the tests that run them`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  let r = spawnSync("apt-get", ["install", "-y", "--no-install-recommends", ...packages], { stdio: "inherit", env });
  if (r.status !== 0) {
    spawnSync("apt-get", ["update"], { stdio: "inherit", env });
    r = spawnSync("apt-get", ["install", "-y", "--no-install-recommends", ...packages], { stdio: "inherit", env });
  }
}
for (const t of missing.filter((t) => !has(t.command))) {
  console.warn(
    `test-tools: ${t.command} is not installed and could not be installed here; SKIPPED: ${t.tests}. ` +
      `Install it with: apt-get install -y ${t.aptPackage}`,
  );
}
