import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { fullSnapshot, scenarios } from "./harness.js";

const scenario = scenarios();

describe("dry-run against the misconfigured cluster (`octoha dry-run PLAN --detailed-exitcode`)", () => {
  it("exits 10 and writes nothing anywhere (no journal, no lock, no shared folder), then exits 0 once a repair has run", async () => {
    const s = await scenario();
    const planDir = path.dirname(s.planFile);
    const before = { cluster: fullSnapshot(s.standin.dataDir), plan: fullSnapshot(planDir) };
    const stateBefore = s.standin.cluster.state();

    const dry = await s.cli("dry-run", s.planFile, "--workflow", "repair", "--detailed-exitcode", "--json");
    expect(dry.code, dry.stderr).toBe(10);
    expect(dry.result).toMatchObject({ format: "octoha-dry-run", wouldChange: true });
    // While the copy steps plan, stderr says so (stdout is the one JSON envelope).
    expect(dry.stderr).toMatch(/^dry-run: copy-task-logs: taskLogs from \S+: looking, \d+ files so far, \d+ to copy$/m);
    // Each node's planning has its own lines (the second node's are not thinned away behind the first's).
    const nodes = new Set([...dry.stderr.matchAll(/^dry-run: copy-task-logs: taskLogs from (\S+): looking/gm)].map((m) => m[1]));
    expect(nodes.size).toBe(stateBefore.nodes.length);
    expect({ cluster: fullSnapshot(s.standin.dataDir), plan: fullSnapshot(planDir) }).toEqual(before);
    const stateAfter = s.standin.cluster.state();
    expect({ ...stateAfter, nodes: stateAfter.nodes.map((n) => ({ ...n, lastSeen: "" })) }).toEqual({
      ...stateBefore,
      nodes: stateBefore.nodes.map((n) => ({ ...n, lastSeen: "" })),
    });

    const repair = await s.cli("repair", s.planFile, "--yes", "--json");
    expect(repair.code, repair.stderr).toBe(0);
    const again = await s.cli("dry-run", s.planFile, "--workflow", "repair", "--detailed-exitcode", "--json");
    expect(again.code, `${again.stderr}\n${again.stdout.slice(0, 2000)}`).toBe(0);
  });

  it('a report blocked by a wrong API key exits 1, with or without --detailed-exitcode, never 0 "nothing would change"', async () => {
    const s = await scenario();
    const wrongKey = { [s.plan.octopus.apiKey!.env]: "API-WRONGKEY0000000000000000" };
    const dry = await s.cliWithEnv(wrongKey, "dry-run", s.planFile, "--workflow", "repair", "--detailed-exitcode", "--json");
    expect(dry.result, dry.stdout.slice(0, 2000)).toMatchObject({ format: "octoha-dry-run", blocked: true });
    expect(dry.code, dry.stderr).toBe(1);
    expect(dry.stderr).toMatch(/a run would stop: the report has \d+ errors? \(first: .*HTTP 401/);
    const plain = await s.cliWithEnv(wrongKey, "dry-run", s.planFile, "--workflow", "repair");
    expect(plain.code).toBe(1);
    expect(plain.stdout).toContain("A run would stop: fix the errors below first.");
  });

  it("--full-list writes every collision the report counts, one JSON line each, and the report still goes to stdout", async () => {
    const s = await scenario();
    const file = path.join(path.dirname(s.planFile), "full-list.jsonl");
    const dry = await s.cli("dry-run", s.planFile, "--workflow", "repair", "--json", "--full-list", file);
    expect(dry.code, dry.stderr).toBe(0);
    const report = dry.result as { collisionTotals: { total: number } };
    const lines = readFileSync(file, "utf8")
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as { list: string; step: string; folder: string });
    const collisions = lines.filter((l) => l.list === "collision");
    expect(report.collisionTotals.total).toBeGreaterThan(0);
    expect(collisions).toHaveLength(report.collisionTotals.total);
    for (const c of collisions) expect(c).toMatchObject({ step: expect.stringMatching(/^copy-/), folder: expect.any(String) });
  });
});
