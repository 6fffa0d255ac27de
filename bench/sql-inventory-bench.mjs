// Streams N ServerTask rows through the real SQL inventory adapter from a stand-in TDS endpoint
// running in a child process, and reports time and the adapter process's peak heap growth.
// Usage: npm run build && node --expose-gc bench/sql-inventory-bench.mjs [tasks=100000] [pageSize=5000]
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";

const dist = new URL("../dist/", import.meta.url);
const [tasks = "100000", pageSize = "5000"] = process.argv.slice(2).filter((a) => a !== "--serve");

if (process.argv.includes("--serve")) {
  const { serveCompletedTasks } = await import("./task-server.mjs");
  process.send({ connectionString: await serveCompletedTasks(Number(tasks)) });
} else {
  const child = fork(fileURLToPath(import.meta.url), [tasks, pageSize, "--serve"], { stdio: "inherit" });
  const { connectionString } = await new Promise((resolve) => child.once("message", resolve));
  const { createInventory } = await import(new URL("octopus/sql/inventory.js", dist).href);
  const inventory = createInventory(connectionString, { pageSize: Number(pageSize) });
  await inventory.probe();
  globalThis.gc?.();
  const base = process.memoryUsage().heapUsed;
  let peak = base;
  let retained = 0;
  let count = 0;
  const started = process.hrtime.bigint();
  for await (const _row of inventory.tasks()) {
    if (++count % 500 === 0) peak = Math.max(peak, process.memoryUsage().heapUsed);
    // With --expose-gc: what stays alive mid-stream (one page plus the driver's buffers).
    if (count % 10_000 === 0 && globalThis.gc) {
      globalThis.gc();
      retained = Math.max(retained, process.memoryUsage().heapUsed - base);
    }
  }
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  console.log(
    JSON.stringify({
      rows: count,
      pageSize: Number(pageSize),
      seconds: +(ms / 1000).toFixed(2),
      rowsPerSecond: Math.round(count / (ms / 1000)),
      peakHeapGrowthMB: +((peak - base) / 1e6).toFixed(1),
      maxRetainedAfterGcMB: +(retained / 1e6).toFixed(1),
    }),
  );
  await inventory.close();
  child.kill();
}
