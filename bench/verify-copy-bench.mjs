// verify-copy over N completed ServerTask rows: the real step and SQL inventory adapter against a
// stand-in TDS endpoint in a child process (keyset pages of 5000), with a node TaskLogs folder.
// Prints seconds, rows/s and this process's peak RSS.
// Usage: npm run build && node bench/verify-copy-bench.mjs --tasks 1000000 --node-logs DIR [--shared-logs DIR] [--page 5000]
//   --node-logs: a node's TaskLogs (e.g. from `bench/make-home.mjs --preset huge`: servertasks-1 … 1000000)
import { fork } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const dist = new URL("../dist/", import.meta.url);
const o = { tasks: 1_000_000, page: 5000 };
for (let i = 2; i < process.argv.length; i += 2)
  o[process.argv[i].replace(/^--/, "").replace(/-([a-z])/g, (_, c) => c.toUpperCase())] = process.argv[i + 1];

if (o.serve) {
  const { serveCompletedTasks } = await import("./task-server.mjs");
  process.send({ connectionString: await serveCompletedTasks(Number(o.tasks)) });
  process.on("message", () => process.exit(0));
} else {
  if (!o.nodeLogs) throw new Error("--node-logs DIR is required (a node's TaskLogs folder)");
  const child = fork(fileURLToPath(import.meta.url), ["--tasks", String(o.tasks), "--serve", "1"], { stdio: "inherit" });
  const { connectionString } = await new Promise((resolve) => child.once("message", resolve));
  const { createInventory } = await import(new URL("octopus/sql/inventory.js", dist).href);
  const { createVerifyCopyStep } = await import(new URL("steps/verify-copy.js", dist).href);
  const { createRunFacts } = await import(new URL("steps/facts.js", dist).href);
  const inventory = createInventory(connectionString, { pageSize: Number(o.page) });
  await inventory.probe();
  const empty = mkdtempSync(path.join(os.tmpdir(), "octoha-verify-bench-"));
  const step = createVerifyCopyStep({
    ports: { inventory },
    facts: createRunFacts(),
    sharedTaskLogs: o.sharedLogs ?? empty,
    sharedPackages: empty,
    nodeTaskLogs: [{ node: "OCTO1", access: o.nodeLogs }],
    nodePackages: [],
    logsMissingEverywhere: "list",
  });
  const started = process.hrtime.bigint();
  const preview = await step.inspect({
    runId: "bench",
    stepId: "verify-copy",
    signal: new AbortController().signal,
    checkpoint: async () => {},
    emit: () => {},
    now: Date.now,
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const hwm = Number(/VmHWM:\s+(\d+)/.exec(readFileSync("/proc/self/status", "utf8"))?.[1] ?? 0) / 1024;
  console.log(
    JSON.stringify({
      tasksChecked: preview.facts.tasksChecked,
      logsNowhere: preview.facts.logsNowhereTotal,
      seconds: +seconds.toFixed(2),
      rowsPerSecond: Math.round(preview.facts.tasksChecked / seconds),
      peakRssMB: Math.round(hwm),
    }),
  );
  await inventory.close();
  rmSync(empty, { recursive: true, force: true });
  child.send("exit");
}
