import { appendFileSync, existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { CopyResult } from "../../src/model/copy-results.js";
import { nodeFolder, sharedFolder, stepResult, treeOf, until, unreadableLogs, scenarios } from "./harness.js";

const scenario = scenarios();

describe("preseed while Octopus is live, then the window (`run --phase preseed`, then `run --yes`)", () => {
  it("the window copies only what changed since the preseed: new logs, and a grown log replaced, not quarantined as a collision", async () => {
    const s = await scenario({ standin: { nodes: 1, seedTasks: 3 } });
    const { cluster } = s.standin;
    const pre = await s.cli("run", s.planFile, "--phase", "preseed", "--json");
    expect(pre.code, pre.stderr).toBe(0);
    const preseeded = await stepResult<CopyResult>(s, pre.outcome, "preseed");
    const logsPreseeded = preseeded!.jobs.find((j) => j.kind === "taskLogs")!.filesCopied;
    // Octopus was live and untouched: same folders, no maintenance mode.
    expect(cluster.state().folders.taskLogs).toBe("C:\\Octopus\\TaskLogs");
    expect(cluster.isInMaintenanceMode).toBe(false);

    // Between the two runs deployments keep running and writing logs, and one old log grows.
    const queued = [cluster.queueTask({ durationMs: 200 }), cluster.queueTask({ durationMs: 300 })];
    await until("the two new deployments finish", () => queued.every((q) => cluster.task(q.id).completedTime !== null));
    const grown = cluster.tasks().find((t) => t.completedTime !== null && !queued.some((q) => q.id === t.id))!;
    appendFileSync(
      path.join(nodeFolder(s, "OCTO1", "TaskLogs"), grown.logFileName),
      "2026-01-05T10:00:00Z  Info     | a late line after the preseed\n",
    );

    const window = await s.cli("run", s.planFile, "--yes", "--json");
    expect(window.code, window.stderr).toBe(0);

    // The window's live delta pass found exactly the two new logs and the grown one.
    const delta = await stepResult<CopyResult>(s, window.outcome, "preseed");
    const logs = delta!.jobs.find((j) => j.kind === "taskLogs")!;
    expect({ copied: logs.filesCopied, updated: logs.filesUpdated, alreadyThere: logs.filesSkipped, collisions: logs.collisions }).toEqual({
      copied: 3,
      updated: 1,
      alreadyThere: logsPreseeded - 1,
      collisions: [],
    });
    for (const kind of ["artifacts", "packages"] as const)
      expect(delta!.jobs.find((j) => j.kind === kind)).toMatchObject({ filesCopied: 0, collisions: [] });
    // After the drain nothing changed: the window's own copy steps had nothing left to move.
    const report = await s.runReport(window.outcome);
    expect(report.copied.map((c) => c.files)).toEqual([0, 0, 0]);
    expect(report.collisions).toEqual([]);

    for (const kind of ["TaskLogs", "Artifacts", "Packages"] as const)
      expect(treeOf(sharedFolder(s, kind)), kind).toEqual(treeOf(nodeFolder(s, "OCTO1", kind)));
    const quarantine = path.join(sharedFolder(s, "TaskLogs"), ".octoha", "conflicts");
    expect(existsSync(quarantine) ? readdirSync(quarantine, { recursive: true }) : []).toEqual([]);
    expect(await unreadableLogs(s)).toEqual([]);
  });
});
