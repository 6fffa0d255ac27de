import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { nodeFolder, sharedFolder, treeOf, unreadableLogs, scenarios } from "./harness.js";

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

/** Every moment the cluster was disturbed while `during` ran: maintenance mode on, a node draining or stopped. */
async function disturbances(s: Awaited<ReturnType<typeof scenario>>, during: () => Promise<unknown>): Promise<string[]> {
  const seen = new Set<string>();
  const look = () => {
    const state = s.standin.cluster.state();
    if (state.isInMaintenanceMode) seen.add("maintenance mode on");
    for (const n of state.nodes) {
      if (n.isDraining) seen.add(`${n.name} draining`);
      if (!n.running) seen.add(`${n.name} stopped`);
    }
  };
  const timer = setInterval(look, 2);
  try {
    await during();
  } finally {
    clearInterval(timer);
  }
  look();
  return [...seen].sort();
}

describe("`octoha repair` on a cluster that needs none", () => {
  it("drains, stops and restarts no node and leaves maintenance mode off: it verifies, says so, and asks no approval", async () => {
    const s = await scenario();
    expect((await s.cli("repair", s.planFile, "--yes", "--json")).code).toBe(0);
    const shared = treeOf(path.dirname(sharedFolder(s, "TaskLogs")), []);

    let again: Awaited<ReturnType<typeof s.cli>> | undefined;
    // No --yes, and no terminal: a gate would stop the run awaiting approval (exit 3).
    const seen = await disturbances(s, async () => (again = await s.cli("repair", s.planFile, "--json")));
    expect(again!.code, again!.stderr).toBe(0);
    expect(again!.outcome?.status).toBe("done");
    expect(seen).toEqual([]);
    expect(treeOf(path.dirname(sharedFolder(s, "TaskLogs")), [])).toEqual(shared);
    expect(await unreadableLogs(s)).toEqual([]);
    const report = await s.runReport(again!.outcome);
    expect(report.nothingToRepair).toMatch(/folder settings already name the shared folders/);
    expect(readFileSync(path.join(path.dirname(again!.outcome!.journal), "report.md"), "utf8")).toContain("Nothing to repair");
    // status says which steps were skipped, and a rollback has none of them to undo.
    const status = (await s.cli("status", s.planFile, "--run", again!.outcome!.runId, "--json")).result as {
      steps: { id: string; state: string }[];
    };
    const state = new Map(status.steps.map((st) => [st.id, st.state]));
    expect([state.get("drain-nodes"), state.get("repath"), state.get("undrain"), state.get("verify-octopus")]).toEqual([
      "skipped",
      "skipped",
      "skipped",
      "verified",
    ]);
    const undo = await s.cli("rollback", s.planFile, "--run", again!.outcome!.runId, "--yes", "--json");
    expect(undo.outcome?.undone.filter((id) => state.get(id) === "skipped")).toEqual([]);

    // --full takes the whole outage anyway (and shows the watch above would have seen one).
    let full: Awaited<ReturnType<typeof s.cli>> | undefined;
    const outage = await disturbances(s, async () => (full = await s.cli("repair", s.planFile, "--yes", "--full", "--json")));
    expect(full!.code, full!.stderr).toBe(0);
    expect(outage).toEqual(["OCTO1 draining", "OCTO1 stopped", "OCTO2 draining", "OCTO2 stopped", "maintenance mode on"]);
  });

  it("a node's folder removed after the repair is nothing to copy, and the run says so", async () => {
    const s = await scenario();
    expect((await s.cli("repair", s.planFile, "--yes", "--json")).code).toBe(0);
    rmSync(nodeFolder(s, "OCTO1", "Artifacts"), { recursive: true });
    const again = await s.cli("repair", s.planFile, "--json");
    expect(again.code, again.stderr).toBe(0);
    expect((await s.runReport(again.outcome)).nothingToRepair).toMatch(/Artifacts does not exist on OCTO1: nothing of artifacts to copy/);
  });

  it("a losing copy not yet in quarantine is a change the dry-run shows (--detailed-exitcode 10), as the run will act on it", async () => {
    const s = await scenario();
    expect((await s.cli("repair", s.planFile, "--yes", "--json")).code).toBe(0);
    // Octopus rewrites a scheduled-task log on the share: OCTO1's old copy of it now loses, and is not in quarantine yet.
    appendFileSync(path.join(sharedFolder(s, "TaskLogs"), "scheduledtasks_processsubscriptions.txt"), "written since by Octopus\n");
    const dry = await s.cli("dry-run", s.planFile, "--workflow", "repair", "--detailed-exitcode", "--json");
    expect(dry.code, dry.stderr).toBe(10);
    expect(JSON.stringify(dry.result)).toContain("1 losing copy to quarantine");
  });

  it("a file still only on a node's disk takes the repair's whole outage, names the node, and is copied", async () => {
    const s = await scenario();
    expect((await s.cli("repair", s.planFile, "--yes", "--json")).code).toBe(0);
    const left = path.join(nodeFolder(s, "OCTO2", "Artifacts"), "Spaces-1", "left-behind.txt");
    mkdirSync(path.dirname(left), { recursive: true });
    writeFileSync(left, "written to OCTO2's own disk");

    const dry = await s.cli("dry-run", s.planFile, "--workflow", "repair", "--json");
    expect(JSON.stringify(dry.result)).toMatch(/REPAIR_NEEDED.*1 file of artifacts from OCTO2 is not at/);
    let again: Awaited<ReturnType<typeof s.cli>> | undefined;
    const seen = await disturbances(s, async () => (again = await s.cli("repair", s.planFile, "--yes", "--json")));
    expect(again!.code, again!.stderr).toBe(0);
    expect(seen).toContain("maintenance mode on");
    expect(readFileSync(path.join(sharedFolder(s, "Artifacts"), "Spaces-1", "left-behind.txt"), "utf8")).toBe(
      "written to OCTO2's own disk",
    );
  });
});
