import path from "node:path";
import { describe, expect, it } from "vitest";
import { checksWith, envRefsCheck, planWarningsCheck, runChecks, type PlanCheck } from "../../src/plan/checks.js";
import type { LoadedPlan } from "../../src/plan/load.js";
import { Plan } from "../../src/plan/schema.js";
import { InputError } from "../../src/shared/errors.js";
import { windowsPlan } from "./fixtures.js";

const loaded: LoadedPlan = { plan: Plan.parse(windowsPlan()), file: path.resolve("plan.json"), stateDir: path.resolve(".octoha") };
const env = { OCTOPUS_API_KEY: "API-CHECKS000000000000", OCTOHA_SQL_CONNECTION_STRING: "Server=db;Password=Checks-Secret-1" };

describe("runChecks", () => {
  it("turns a check that throws into an error finding and still runs the others", async () => {
    const boom: PlanCheck = {
      id: "sql-reachable",
      title: "SQL Server reachable",
      run: async () => {
        throw new InputError("cannot log in", { code: "SQL_LOGIN", hint: "Grant the account db_datareader." });
      },
    };
    const report = await runChecks(loaded, [boom, envRefsCheck], { env });
    expect(report.ok).toBe(false);
    expect(report.results.map((r) => r.id)).toEqual(["sql-reachable", "env-refs"]);
    expect(report.results[0]!.findings).toEqual([
      expect.objectContaining({ severity: "error", code: "SQL_LOGIN", fix: "Grant the account db_datareader." }),
    ]);
  });

  it("gives preflight checks the resolved secrets, and hides them in what the checks return", async () => {
    const leaky: PlanCheck = {
      id: "leaky",
      title: "Leaky",
      run: async ({ secrets }) => [{ severity: "warning", code: "X", summary: `connected with ${secrets.sqlConnectionString}` }],
    };
    const report = await runChecks(loaded, [leaky], { env });
    expect(report.ok).toBe(true);
    expect(JSON.stringify(report)).not.toContain("Checks-Secret-1");
  });

  it("adds preflight checks after the plan-only ones, each once, and keeps no list between calls", () => {
    const probe: PlanCheck = { id: "test-preflight", title: "Preflight", run: async () => [] };
    const checks = checksWith([probe, probe]);
    expect(checks.filter((c) => c.id === "test-preflight")).toHaveLength(1);
    expect(checks[0]).toBe(envRefsCheck);
    // A later call without preflight (`octoha check --no-preflight` in the same process) gets none of it.
    expect(checksWith().map((c) => c.id)).toEqual([envRefsCheck.id, planWarningsCheck.id]);
  });
});

describe("plan warnings", () => {
  it("warns that a shared folder on a drive letter must be mapped for the service account, without failing the check", async () => {
    const p = windowsPlan() as Record<string, unknown> & { shared: { taskLogs: { octopus: string } } };
    p.shared.taskLogs.octopus = "X:\\OctopusShared\\TaskLogs";
    const report = await runChecks({ ...loaded, plan: Plan.parse(p) }, [planWarningsCheck], { env });
    expect(report.ok).toBe(true);
    expect(report.results[0]!.findings).toEqual([
      expect.objectContaining({ severity: "warning", code: "SHARED_ON_DRIVE_LETTER", path: "shared.taskLogs.octopus" }),
      expect.objectContaining({ code: "STATE_DIR_LOCAL" }),
      expect.objectContaining({ severity: "info", code: "PLAN_SUMMARY" }),
    ]);
  });
});
