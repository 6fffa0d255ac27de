import { describe, expect, it } from "vitest";
import { sharedFolder, treeOf, until, unreadableLogs, scenarios } from "./harness.js";

const scenario = scenarios();

describe("a drain that never finishes", () => {
  it("stops resumable (exit 3) naming the running task and its node, copies nothing, leaves the nodes drained but Octopus out of maintenance mode; resume --cancel-tasks cancels it and completes", async () => {
    const s = await scenario({ options: { drainTimeoutMinutes: 0.05 } });
    const { cluster } = s.standin;
    for (const n of cluster.nodes()) cluster.setStuck(n.name, true);
    const stuck = cluster.queueTask({ description: "Deploy Acme.Web to Production (hangs)", durationMs: 3_600_000 });
    await until("the task is picked up", () => cluster.task(stuck.id).state === "Executing");
    const node = cluster.task(stuck.id).serverNode!;

    const first = await s.cli("repair", s.planFile, "--yes", "--json");
    expect(first.code, `${first.stderr}\n${first.stdout.slice(-3000)}`).toBe(3);
    expect(first.outcome?.failure).toMatchObject({ code: "DRAIN_TIMEOUT" });
    expect(first.outcome?.failure?.hint).toContain(`${stuck.id} (Deploy, Executing) on ${node}`);
    expect(first.stdout + first.stderr).toContain("--cancel-tasks");
    for (const kind of ["TaskLogs", "Artifacts", "Packages"] as const) expect(treeOf(sharedFolder(s, kind)).size, kind).toBe(0);
    const drained = cluster.state();
    expect(drained.nodes.map((n) => [n.name, n.isDraining, n.running])).toEqual([
      ["OCTO1", true, true],
      ["OCTO2", true, true],
    ]);
    expect(drained.isInMaintenanceMode).toBe(false);
    expect(drained.folders.taskLogs).toBe("C:\\Octopus\\TaskLogs");
    expect(cluster.task(stuck.id).state).toBe("Executing");

    const resumed = await s.cli("resume", s.planFile, "--yes", "--cancel-tasks", "--json");
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(cluster.task(stuck.id).state).toBe("Canceled");
    const after = cluster.state();
    expect(after.isInMaintenanceMode).toBe(false);
    expect(after.nodes.map((n) => [n.name, n.isDraining, n.maxConcurrentTasks])).toEqual([
      ["OCTO1", false, 5],
      ["OCTO2", false, 5],
    ]);
    expect(await unreadableLogs(s)).toEqual([]);
  });
});
