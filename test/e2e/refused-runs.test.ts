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

describe("a plan node that is down before the run", () => {
  it("repair stops at its preflight naming the node, with nothing changed; the dry-run reports the same error", async () => {
    const s = await scenario();
    s.standin.cluster.stopNode("OCTO2");
    const before = s.standin.cluster.state();
    const cluster = fullSnapshot(s.standin.dataDir);

    const dry = await s.cli("dry-run", s.planFile, "--workflow", "repair", "--format", "json");
    expect(dry.code, dry.stderr).toBe(1);
    const report = dry.result as { findings?: { code: string; node?: string; severity: string }[] };
    expect(report.findings?.filter((f) => f.severity === "error")).toMatchObject([{ code: "NODE_NO_PING", node: "OCTO2" }]);

    const r = await s.cli("repair", s.planFile, "--yes");
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain("Preflight found 1 problem; nothing was changed");
    expect(r.stderr).toMatch(/Node OCTO2 does not answer at .*\/api\/octopusservernodes\/ping/);
    expect(r.stderr).toContain("Start OCTO2's Octopus service");
    expect(r.stderr).toContain("remove it from plan.nodes");

    const after = s.standin.cluster.state();
    expect(after.isInMaintenanceMode).toBe(false);
    const facts = (st: typeof before) => st.nodes.map((n) => [n.name, n.running, n.isDraining, n.maxConcurrentTasks, n.effectiveFolders]);
    expect(facts(after)).toEqual(facts(before));
    expect(after.folders).toEqual(before.folders);
    expect(fullSnapshot(s.standin.dataDir), "no shared folder made, no path written").toEqual(cluster);
  });
});
