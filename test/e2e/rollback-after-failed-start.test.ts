/**
 * A repair whose start-services failed (the nodes never answered by the plan's deadline): the
 * rollback then refuses to undo repath (a node may have run on the new folders), and its reason
 * says what the run knows: that it tried to start the nodes and did not finish, not that they started.
 */
import { describe, expect, it } from "vitest";
import { scenarios, type Scenario } from "./harness.js";

const scenario = scenarios();

/** A repair stopped at start-services: its nodes were started but never answered. */
async function repairFailedAtStart(): Promise<Scenario> {
  const s = await scenario({ standin: { startupMs: 600_000 }, options: { serviceStartTimeoutMinutes: 0.05 } });
  const r = await s.cli("repair", s.planFile, "--yes", "--json");
  expect(r.code, r.stderr).toBe(1);
  expect(r.outcome?.failure).toMatchObject({ stepId: "start-services", code: "SERVICE_NOT_READY" });
  return s;
}

async function repathRefusal(s: Scenario): Promise<string> {
  const rb = await s.cli("rollback", s.planFile, "--yes", "--json");
  expect(rb.code, rb.stderr).toBe(1);
  return rb.outcome?.undoProblems?.find((p) => p.stepId === "repath")?.reason ?? "";
}

describe("rollback after start-services failed", () => {
  it("with the nodes stopped again, repath's refusal says the run tried to start them and did not finish, not that they started", async () => {
    const s = await repairFailedAtStart();
    for (const n of ["OCTO1", "OCTO2"]) s.standin.cluster.stopNode(n);
    const reason = await repathRefusal(s);
    expect(reason).not.toMatch(/started on the new folders/);
    expect(reason).toMatch(/^start-services tried to start node\(s\) OCTO1, OCTO2 and did not finish: none of them runs now/);
    expect(reason).toContain("path --instance OctopusServer");
  });

  it("with the nodes still starting, it says start-services did not finish and which nodes are not stopped", async () => {
    const s = await repairFailedAtStart();
    const reason = await repathRefusal(s);
    expect(reason).not.toMatch(/started on the new folders/);
    expect(reason).toMatch(
      /^start-services did not finish, and node\(s\) OCTO1, OCTO2 are not stopped: they may be running on the new folders, or still starting/,
    );
  });
});
