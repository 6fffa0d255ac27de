/**
 * A repair whose `Octopus.Server.exe path` fails (the stand-in's failPath fault): the run stops at
 * repath with every node stopped and maintenance mode on, and `path` changed nothing. Rollback must
 * bring the cluster back as it was without running that failing `path` again to write back folders
 * that never changed, so it works while the fault is still there.
 */
import { describe, expect, it } from "vitest";
import { scenarios, type Scenario } from "./harness.js";

const scenario = scenarios();

/** What an operator checks after a rollback: every node's service, drain flag and task cap, maintenance mode, the folders. */
function clusterState(s: Scenario) {
  const state = s.standin.cluster.state();
  return {
    maintenance: state.isInMaintenanceMode,
    folders: state.folders,
    nodes: state.nodes.map((n) => ({ name: n.name, running: n.running, draining: n.isDraining, cap: n.maxConcurrentTasks })),
  };
}

describe("rollback of a repair whose path failed", () => {
  it("brings every node back up, maintenance off, no node draining, folders as before, while path still fails (exit 4)", async () => {
    const s = await scenario();
    const before = clusterState(s);
    s.standin.http.executableFaults.failPath = true;

    const r = await s.cli("repair", s.planFile, "--yes", "--json");
    expect(r.code, r.stderr).toBe(1);
    expect(r.outcome?.failure?.stepId).toBe("repath");
    expect(clusterState(s)).toEqual({
      maintenance: true,
      folders: before.folders,
      nodes: before.nodes.map((n) => ({ ...n, running: false, draining: true })),
    });

    const rb = await s.cli("rollback", s.planFile, "--yes", "--json");
    expect(rb.code, `${rb.stdout.slice(-3000)}\n${rb.stderr}`).toBe(4);
    expect(rb.outcome?.undone).toContain("repath");
    expect(clusterState(s)).toEqual(before);
    const said = rb.lines.filter((l) => l.type === "step-progress" && l.stepId === "repath").map((l) => JSON.stringify(l.event));
    expect(said.join("\n")).toMatch(/Nothing to write back: Octopus still uses the folders it had before the run/);
  });
});
