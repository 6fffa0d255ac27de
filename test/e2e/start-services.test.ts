/**
 * A started Octopus Server answers 503 for a while (and a connection may be reset) before it serves:
 * start-services waits for every node to answer instead of failing the run with maintenance mode on.
 */
import { describe, expect, it } from "vitest";
import { scenarios, unreadableLogs, type Scenario } from "./harness.js";

const scenario = scenarios();

/** The first request to each node after it starts again has its connection reset. */
function resetOnceAfterStart(s: Scenario): void {
  const { cluster, http } = s.standin;
  const wasStopped = new Set<string>();
  cluster.onChange(() => {
    for (const n of cluster.nodes()) {
      if (!n.running) wasStopped.add(n.name);
      else if (wasStopped.delete(n.name)) http.setFaults(n.name, { resetNext: 1 });
    }
  });
}

describe("start-services against nodes that take a while to start", () => {
  it("nodes answering 503 for seconds after their start, and one reset, do not fail the repair", async () => {
    const s = await scenario({ standin: { startupMs: 6_000 } });
    resetOnceAfterStart(s);
    const r = await s.cli("repair", s.planFile, "--yes", "--json");
    expect(r.code, `${r.stderr}\n${r.stdout.slice(-3000)}`).toBe(0);
    const waits = r.lines.filter((l) => l.type === "step-progress" && l.stepId === "start-services");
    expect(waits.length, "start-services said it waited for the nodes").toBeGreaterThan(0);
    const state = s.standin.cluster.state();
    expect(state.isInMaintenanceMode).toBe(false);
    expect(state.nodes.map((n) => [n.name, n.running, n.isDraining])).toEqual([
      ["OCTO1", true, false],
      ["OCTO2", true, false],
    ]);
    expect(await unreadableLogs(s)).toEqual([]);
  });

  it("a node that never answers stops the run at the plan's deadline with the node named; resume finishes once it answers", async () => {
    const s = await scenario({ standin: { startupMs: 600_000 }, options: { serviceStartTimeoutMinutes: 0.1 } });
    const r = await s.cli("repair", s.planFile, "--yes", "--json");
    expect(r.code, r.stderr).toBe(1);
    expect(r.outcome?.failure).toMatchObject({ stepId: "start-services", code: "SERVICE_NOT_READY" });
    expect(r.outcome?.failure?.message).toContain("OCTO1, OCTO2");
    expect(r.outcome?.nextCommand).toMatch(/octoha resume/);
    expect(s.standin.cluster.isInMaintenanceMode).toBe(true);

    // The nodes finish starting (the stand-in's clock moves on); the same run then completes.
    s.standin.cluster.advance(600_000);
    const resumed = await s.cli("resume", s.planFile, "--yes", "--json");
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(s.standin.cluster.isInMaintenanceMode).toBe(false);
  });
});
