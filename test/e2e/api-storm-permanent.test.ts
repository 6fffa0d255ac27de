import { describe, expect, it } from "vitest";
import { scenarios, stormOnDrain, unreadableLogs } from "./harness.js";

const scenario = scenarios();

describe("a 5xx storm on the load-balanced API that does not stop", () => {
  it("outlasting every retry stops the run resumable (exit 3) naming the URL; the printed resume command completes once the storm ends", async () => {
    const s = await scenario();
    stormOnDrain(s, { errorRate: 1, errorStatus: 502 });
    const r = await s.cli("repair", s.planFile, "--yes", "--json");
    expect(r.code, r.stderr).toBe(3);
    expect(r.outcome?.status).toBe("failed");
    expect(r.outcome?.failure).toMatchObject({ stepId: "drain-nodes", code: "OCTOPUS_API_UNAVAILABLE" });
    expect(r.outcome?.failure?.message).toContain(`${s.standin.url.replace(/\/$/, "")}/api/`);
    expect(r.outcome?.failure?.message).toContain("502");
    expect(s.standin.cluster.isInMaintenanceMode).toBe(false);
    const next = r.outcome?.nextCommand ?? "";
    expect(next).toMatch(/^octoha resume /);

    s.standin.http.setFaults("lb", {});
    const resumed = await s.cli(...next.split(/\s+/).slice(1), "--yes", "--json");
    expect(resumed.code, resumed.stderr).toBe(0);
    const state = s.standin.cluster.state();
    expect(state.isInMaintenanceMode).toBe(false);
    expect(state.nodes.map((n) => [n.name, n.isDraining, n.maxConcurrentTasks])).toEqual([
      ["OCTO1", false, 5],
      ["OCTO2", false, 5],
    ]);
    expect(await unreadableLogs(s)).toEqual([]);
  });
});
