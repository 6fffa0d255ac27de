import { describe, expect, it } from "vitest";
import { nodeFolder, sharedFolder, treeOf, unreadableLogs, scenarios } from "./harness.js";

const scenario = scenarios();

describe("migration of a single node to HA (`octoha run PLAN --yes`)", () => {
  it("puts every file on shared storage byte for byte, repoints Octopus, and leaves it out of maintenance mode with the node's own task cap", async () => {
    const s = await scenario({ standin: { nodes: 1, seedTasks: 4 } });
    s.standin.cluster.updateNode("OCTO1", { maxConcurrentTasks: 7 });
    const sources = {
      TaskLogs: treeOf(nodeFolder(s, "OCTO1", "TaskLogs")),
      Artifacts: treeOf(nodeFolder(s, "OCTO1", "Artifacts")),
      Packages: treeOf(nodeFolder(s, "OCTO1", "Packages")),
    };
    expect(sources.TaskLogs.size).toBeGreaterThan(4);

    const r = await s.cli("run", s.planFile, "--yes", "--json");
    expect(r.code, r.stderr).toBe(0);
    expect(r.outcome?.status).toBe("done");

    for (const kind of ["TaskLogs", "Artifacts", "Packages"] as const) expect(treeOf(sharedFolder(s, kind)), kind).toEqual(sources[kind]);
    const state = s.standin.cluster.state();
    expect(state.folders).toMatchObject({
      taskLogs: "\\\\fs01\\OctopusShared\\TaskLogs",
      artifacts: "\\\\fs01\\OctopusShared\\Artifacts",
      packages: "\\\\fs01\\OctopusShared\\Packages",
    });
    expect(
      state.nodes.map((n) => ({
        name: n.name,
        running: n.running,
        draining: n.isDraining,
        cap: n.maxConcurrentTasks,
        reads: n.effectiveFolders.taskLogs,
      })),
    ).toEqual([{ name: "OCTO1", running: true, draining: false, cap: 7, reads: "\\\\fs01\\OctopusShared\\TaskLogs" }]);
    expect(state.isInMaintenanceMode).toBe(false);
    expect(await unreadableLogs(s)).toEqual([]);
  });
});
