import { describe, expect, it } from "vitest";
import { scenarios, stormOnDrain, unreadableLogs } from "./harness.js";

const scenario = scenarios();

describe("a 5xx storm on the load-balanced API during the run", () => {
  it("a passing storm is retried and the repair completes", async () => {
    const s = await scenario();
    // More failures than one request's attempts, across the drain's two parallel reads: one gives up, the step is retried.
    stormOnDrain(s, { failNext: 9, errorStatus: 503 });
    const r = await s.cli("repair", s.planFile, "--yes", "--json");
    expect(r.code, r.stderr).toBe(0);
    expect(r.lines.filter((l) => l.type === "step-retry").map((l) => [l.stepId, (l.error as { code: string }).code])).toContainEqual([
      "drain-nodes",
      "OCTOPUS_API_UNAVAILABLE",
    ]);
    expect(s.standin.cluster.state().nodes.map((n) => [n.name, n.isDraining, n.running])).toEqual([
      ["OCTO1", false, true],
      ["OCTO2", false, true],
    ]);
    expect(await unreadableLogs(s)).toEqual([]);
  });
});
