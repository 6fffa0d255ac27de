/**
 * A node that answered at preflight and went down in the middle of the run (its service stopped
 * before stop-services came to it): stop-services records it as stopped, so start-services does not
 * start it, and its verify names it. It says what the run knows (the node answered at preflight and
 * went down during the run), not that it "was not running before the run".
 */
import { describe, expect, it } from "vitest";
import { scenarios } from "./harness.js";

const scenario = scenarios();

describe("a node that goes down mid-run", () => {
  it("start-services names it as gone down during the run, not as one that was not running before the run", async () => {
    const s = await scenario();
    const { cluster } = s.standin;
    // OCTO2 stops (a crash, an administrator) once maintenance mode is on, before stop-services runs.
    cluster.onChange(() => {
      if (cluster.isInMaintenanceMode && cluster.node("OCTO2").running) cluster.stopNode("OCTO2");
    });
    const r = await s.cli("repair", s.planFile, "--yes", "--json");
    expect(r.code, r.stderr).toBe(1);
    const failure = r.outcome?.failure;
    expect(failure).toMatchObject({ stepId: "start-services", code: "VERIFY_FAILED" });
    expect(failure?.message).toContain("went down during the run (after preflight), not started by it: OCTO2");
    expect(failure?.hint).toMatch(
      /^OCTO2 is stopped: it answered at preflight but was already stopped when the run came to stop the nodes \(it went down during the run\)/,
    );
    expect(`${failure?.message}\n${failure?.hint}`).not.toMatch(/not running before the run/);
    expect(cluster.state().nodes.map((n) => [n.name, n.running])).toEqual([
      ["OCTO1", true],
      ["OCTO2", false],
    ]);
  });
});
