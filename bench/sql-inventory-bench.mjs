// Streams N ServerTask rows through the real SQL inventory adapter from a stand-in TDS endpoint
// running in a child process, and reports time and the adapter process's peak heap growth.
// Usage: npm run build && node --expose-gc bench/sql-inventory-bench.mjs [tasks=100000] [pageSize=5000]
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";

const dist = new URL("../dist/", import.meta.url);
const [tasks = "100000", pageSize = "5000"] = process.argv.slice(2).filter((a) => a !== "--serve");

if (process.argv.includes("--serve")) {
  // The stand-in is the workspace standin/ (built by npm run build), reached by its package name.
  const { startTdsServer, createSqlEngine } = await import("@octoha/standin");
  const n = Number(tasks);
  const state = {
    version: "2022.4.3963",
    schema: "2018+",
    isInMaintenanceMode: false,
    folders: { taskLogs: "C:\\Octopus\\TaskLogs", artifacts: "C:\\Octopus\\Artifacts", packages: "C:\\Octopus\\Packages" },
    nodes: ["OCTO1", "OCTO2"].map((name) => ({
      id: `OctopusServerNodes-${name}`,
      name,
      maxConcurrentTasks: 5,
      isDraining: false,
      lastSeen: "2026-01-01T00:00:00.000Z",
      running: true,
      effectiveFolders: { taskLogs: "", artifacts: "", packages: "" },
      pathMap: [],
    })),
    tasks: Array.from({ length: n }, (_, i) => ({
      id: `ServerTasks-${i + 1}`,
      name: "Deploy",
      description: `Deploy ${i + 1}`,
      state: "Success",
      serverNode: i % 2 ? "OCTO1" : "OCTO2",
      queueTime: "2026-01-01T00:00:00.000Z",
      startTime: "2026-01-01T00:00:00.000Z",
      completedTime: "2026-01-01T00:01:00.000Z",
      spaceId: "Spaces-1",
      isSystem: false,
      logFileName: "",
    })),
    packages: [],
  };
  const engine = createSqlEngine({ state: () => state, revision: () => 1 });
  await engine.execute("SELECT COUNT(*) FROM dbo.ServerTask", {}); // materialise before timing
  const server = await startTdsServer({ user: "bench", password: "Bench-Pass-1", database: "Octopus", handler: engine });
  process.send({ connectionString: server.connectionString });
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
