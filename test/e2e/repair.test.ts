import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { nodeFolder, sharedFolder, unreadableLogs, scenarios } from "./harness.js";

const scenario = scenarios();

describe("repair of a two-node cluster whose nodes wrote to their own disks (`octoha repair PLAN --yes`)", () => {
  it("makes every task log open through every node and quarantines the second scheduled-job log, naming it in the run report", async () => {
    const s = await scenario();
    // The symptom before: each node opens only the logs it wrote.
    expect((await unreadableLogs(s)).length).toBeGreaterThan(0);

    const r = await s.cli("repair", s.planFile, "--yes", "--json");
    expect(r.code, r.stderr).toBe(0);
    expect(r.outcome?.status).toBe("done");
    expect(await unreadableLogs(s)).toEqual([]);

    const name = "scheduledtasks_processsubscriptions.txt";
    const kept = readFileSync(path.join(sharedFolder(s, "TaskLogs"), name), "utf8");
    expect(kept).toBe(readFileSync(path.join(nodeFolder(s, "OCTO1", "TaskLogs"), name), "utf8"));
    const quarantined = path.join(sharedFolder(s, "TaskLogs"), ".octoha", "conflicts", "OCTO2", name);
    expect(readFileSync(quarantined, "utf8")).toBe(readFileSync(path.join(nodeFolder(s, "OCTO2", "TaskLogs"), name), "utf8"));

    const report = await s.runReport(r.outcome);
    expect(report.collisions).toMatchObject([
      { folder: "taskLogs", node: "OCTO2", relPath: name, winner: "target", quarantinedAt: quarantined },
    ]);
    expect(report.logsNowhere).toEqual([]);
    const md = readFileSync(r.outcome!.report ?? path.join(path.dirname(r.outcome!.journal), "report.md"), "utf8");
    expect(md).toContain(`taskLogs/${name}`);
    expect(md).toContain(quarantined);

    const state = s.standin.cluster.state();
    expect(state.isInMaintenanceMode).toBe(false);
    expect(state.nodes.map((n) => [n.name, n.running, n.isDraining, n.maxConcurrentTasks])).toEqual([
      ["OCTO1", true, false, 5],
      ["OCTO2", true, false, 5],
    ]);
    // Copy, never move: the node-local logs are still there.
    expect(existsSync(path.join(nodeFolder(s, "OCTO2", "TaskLogs"), name))).toBe(true);
  });
});
