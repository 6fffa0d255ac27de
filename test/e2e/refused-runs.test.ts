/**
 * Runs refused before they start leave nothing behind, and a run that stopped in a read-only
 * preflight leaves nothing to resume: the next run, once the cause is fixed, starts.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { errorOf } from "../helpers/envelope.js";
import { fullSnapshot, scenarios } from "./harness.js";

const scenario = scenarios();

describe("refused and failed-at-preflight runs", () => {
  it("run, repair and dry-run with a secret's variable unset exit 2 naming it, and write nothing (no state directory, journal or lock)", async () => {
    const s = await scenario();
    const sqlVar = s.plan.octopus.sql.connectionString.env;
    const planDir = path.dirname(s.planFile);
    const before = { cluster: fullSnapshot(s.standin.dataDir), plan: fullSnapshot(planDir) };
    for (const args of [
      ["run", s.planFile, "--yes"],
      ["repair", s.planFile, "--yes", "--json"],
      ["dry-run", s.planFile, "--detailed-exitcode"],
    ]) {
      const r = await s.cliWithEnv({ [sqlVar]: undefined }, ...args);
      expect(r.code, `${args[0]}: ${r.stderr}`).toBe(2);
      if (args.includes("--json")) expect(errorOf(r.stdout, args[0]!, 2)).toMatchObject({ code: "ENV_UNSET" });
      else expect(r.stderr).toContain(`octopus.sql.connectionString: environment variable ${sqlVar} is not set`);
      expect(existsSync(s.stateDir), `${args[0]} created the state directory`).toBe(false);
    }
    expect({ cluster: fullSnapshot(s.standin.dataDir), plan: fullSnapshot(planDir) }).toEqual(before);
  });

  it("a preflight that fails (SQL unreachable) leaves nothing to resume: once fixed, the next run is not refused as unfinished", async () => {
    const s = await scenario();
    const sqlVar = s.plan.octopus.sql.connectionString.env;
    const unreachable = s.standin.sqlConnectionString!.replace(/,\d+;/, ",1;");
    const failed = await s.cliWithEnv({ [sqlVar]: unreachable }, "repair", s.planFile, "--yes", "--json");
    expect(failed.code, failed.stderr).toBe(1);
    expect(failed.outcome).toMatchObject({ status: "failed", failure: { stepId: "preflight", code: "PREFLIGHT_FAILED" } });
    expect(s.standin.cluster.state().isInMaintenanceMode).toBe(false);

    const fixed = await s.cli("repair", s.planFile, "--yes", "--json");
    expect(fixed.code, `${fixed.stderr}\n${fixed.stdout.slice(-1500)}`).toBe(0);
    expect(fixed.outcome?.status).toBe("done");
  });
});
