/**
 * A repair whose `Octopus.Server.exe path` fails (the stand-in's failPath fault): the run stops at
 * repath with every node stopped and maintenance mode on, and `path` changed nothing. The failure
 * says so and offers resume and rollback. Rollback must bring the cluster back as it was without
 * running that failing `path` again to write back folders that never changed, so it works while the
 * fault is still there.
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
  it("the failure names the cluster's state and the rollback, which brings every node back up, maintenance off, no node draining, folders as before, while path still fails (exit 4)", async () => {
    const s = await scenario();
    const before = clusterState(s);
    s.standin.http.executableFaults.failPath = true;

    const r = await s.cli("repair", s.planFile, "--yes");
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/failed at step repath/);
    expect(clusterState(s)).toEqual({
      maintenance: true,
      folders: before.folders,
      nodes: before.nodes.map((n) => ({ ...n, running: false, draining: true })),
    });
    // The failure says how the cluster was left and offers both ways out, with the exact commands.
    expect(r.stderr).toMatch(
      /As the run left it: every node's Octopus service is stopped \(Octopus is down\), maintenance mode is on and every node is draining/,
    );
    expect(r.stderr).toMatch(/Once the cause is fixed, finish the run:\n {2}octoha resume \S+ --run \S+\n/);
    const rollback = /Or undo the run, putting back everything it changed:\n {2}(octoha rollback \S+ --run \S+)\n/.exec(r.stderr)?.[1];
    expect(rollback, r.stderr).toBe(`octoha rollback ${s.planFile} --run ${rollback?.split(" ").at(-1)}`);
    expect(r.stderr).not.toMatch(/on that node/);

    // The printed rollback, confirmed with --yes.
    const rb = await s.cli(...rollback!.split(" ").slice(1), "--yes", "--json");
    expect(rb.code, `${rb.stdout.slice(-3000)}\n${rb.stderr}`).toBe(4);
    expect(rb.outcome?.undone).toContain("repath");
    expect(clusterState(s)).toEqual(before);
    const said = rb.lines.filter((l) => l.type === "step-progress" && l.stepId === "repath").map((l) => JSON.stringify(l.event));
    expect(said.join("\n")).toMatch(/Nothing to write back: Octopus still uses the folders it had before the run/);
  });
});

describe("a rollback whose undo of stop-services fails on one node", () => {
  it("says which node runs again and which is still stopped, as read after the undo, not that every node is stopped", async () => {
    const s = await scenario();
    s.standin.http.executableFaults.failPath = true;
    const r = await s.cli("repair", s.planFile, "--yes");
    expect(r.code, r.stderr).toBe(1);
    s.standin.http.executableFaults.failPath = false;
    const [first, second] = s.standin.cluster.state().nodes.map((n) => n.name);
    s.standin.machines.setFaults(second!, { accessDenied: true });

    const rb = await s.cli("rollback", s.planFile, "--yes");
    expect(rb.code, rb.stderr).toBe(1);
    expect(s.standin.cluster.state().nodes.map((n) => [n.name, n.running])).toEqual([
      [first, true],
      [second, false],
    ]);
    expect(rb.stderr).toMatch(/Step stop-services failed to roll back/);
    expect(rb.stderr).toContain(
      `As the rollback left it: the Octopus service, read just now, is running on ${first} and stopped on ${second}, maintenance mode is on and every node is draining`,
    );
    expect(rb.stderr).not.toMatch(/every node's Octopus service is stopped/);
  });
});
