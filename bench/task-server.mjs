// The stand-in's TDS endpoint over N completed ServerTask rows on two nodes, for the SQL benches
// (sql-inventory-bench, verify-copy-bench), which run it in a child process so its CPU is not theirs.
// The stand-in is the workspace standin/ (built by npm run build), reached by its package name.
import { randomBytes } from "node:crypto";
import { startTdsServer, createSqlEngine } from "@octoha/standin";

/** Starts the endpoint and returns its connection string (a password drawn for this run, not a secret). */
export async function serveCompletedTasks(n) {
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
  const server = await startTdsServer({
    user: "bench",
    password: `bench-${randomBytes(6).toString("hex")}`,
    database: "Octopus",
    handler: engine,
  });
  return server.connectionString;
}
