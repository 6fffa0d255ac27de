import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { demoPlan } from "../../src/demo/demo.js";
import { startStandin, type RunningStandin } from "@octoha/standin";
import { cleanEnv, runCli } from "../helpers/cli.js";
import { resultOf } from "../helpers/envelope.js";

let dir: string;
let standin: RunningStandin;
let planFile: string;

/** Every path under root with its bytes' hash (folders too), to prove `check` wrote nothing. */
function tree(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string): void => {
    for (const d of readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const r = path.join(rel, d.name);
      if (d.isDirectory()) {
        out.set(r, "dir");
        walk(r);
      } else
        out.set(
          r,
          createHash("sha256")
            .update(readFileSync(path.join(root, r)))
            .digest("hex") + statSync(path.join(root, r)).mtimeMs,
        );
    }
  };
  walk("");
  return out;
}

const env = (apiKey: string) =>
  cleanEnv({ OCTOHA_DEMO_API_KEY: apiKey, OCTOHA_DEMO_SQL_CONNECTION_STRING: standin.sqlConnectionString ?? "" });

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "octoha-check-"));
  standin = await startStandin({ dataDir: path.join(dir, "cluster"), nodes: 2, seedTasks: 3, clock: "manual" });
  planFile = path.join(dir, "plan.json");
  await writeFile(planFile, JSON.stringify(demoPlan(standin, path.join(dir, "state"))));
}, 60_000);

afterAll(async () => {
  await standin?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("octoha check runs the read-only preflight when the plan's secrets are set", () => {
  it("exits 0 for a cluster that is ready, and writes nothing anywhere", async () => {
    expect(standin.sqlConnectionString, "the stand-in's SQL endpoint").toBeDefined();
    const before = tree(dir);
    const r = await runCli(["check", planFile, "--json"], { env: env(standin.apiKey) });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const report = resultOf<{ results: { id: string; findings: { code: string; severity: string }[] }[] }>(r.stdout, "check", 0);
    const preflight = report.results.find((x) => x.id === "preflight")!;
    expect(preflight.findings.filter((f) => f.severity === "error")).toEqual([]);
    const codes = preflight.findings.map((f) => f.code);
    // Each part of the preflight reported it was reached, not silently skipped.
    for (const code of ["OCTOPUS_REACHABLE", "SCHEMA_RECOGNISED", "SQL_NOT_ENCRYPTED", "TARGET_SPACE"]) expect(codes).toContain(code);
    expect(codes.filter((c) => c === "NODE_PING")).toHaveLength(2);
    expect(tree(dir)).toEqual(before);
  });

  it("a wrong API key exits 1 naming 401 and the fix, without printing the key", async () => {
    const wrongKey = "API-WRONGWRONGWRONGWRONG0";
    const r = await runCli(["check", planFile], { env: env(wrongKey) });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("HTTP 401");
    expect(r.stdout).toMatch(/fix: .*API key/i);
    expect(r.stdout + r.stderr).not.toContain(wrongKey);
    expect(r.stdout + r.stderr).not.toContain(standin.apiKey);
  });

  it("a node folder that cannot be found is named in a finding", async () => {
    const taskLogs = path.join(standin.dataDir, "nodes", standin.nodes[1]!.name, "C", "Octopus", "TaskLogs");
    const moved = `${taskLogs}.away`;
    const { rename } = await import("node:fs/promises");
    await rename(taskLogs, moved);
    try {
      const r = await runCli(["check", planFile, "--json"], { env: env(standin.apiKey) });
      const report = resultOf<{
        results: { id: string; findings: { code: string; node?: string; path?: string; summary: string }[] }[];
      }>(r.stdout, "check", r.code);
      const missing = report.results.find((x) => x.id === "preflight")!.findings.find((f) => f.code === "SOURCE_MISSING");
      expect(missing).toMatchObject({ node: standin.nodes[1]!.name, path: taskLogs });
      expect(missing!.summary).toContain(taskLogs);
      // It promised "nothing is copied from it" while the run's copy stopped on it: it says what happens.
      expect(missing!.summary).not.toContain("nothing is copied");
      expect((missing as { detail?: string }).detail).toContain("A run stops at its first copy of it");
      expect((missing as { fix?: string }).fix).toContain("create the folder empty");
    } finally {
      await rename(moved, taskLogs);
    }
  });

  it("a plan node Octopus does not know: its fix shows the join command with the plan file given, quoted for the shell", async () => {
    const plan = demoPlan(standin, path.join(dir, "state")) as { nodes: { name: string; url?: string }[] };
    const {
      url: _url,
      folders: _folders,
      ...spare
    } = { ...plan.nodes[1]!, name: "OCTO9" } as { name: string; url?: string; folders?: unknown };
    const spaced = path.join(dir, "my plans", "prod plan.json");
    await mkdir(path.dirname(spaced), { recursive: true });
    await writeFile(spaced, JSON.stringify({ ...plan, nodes: [...plan.nodes, spare] }));
    const r = await runCli(["check", spaced, "--json"], { env: env(standin.apiKey) });
    const report = resultOf<{ results: { id: string; findings: { code: string; node?: string; fix?: string }[] }[] }>(
      r.stdout,
      "check",
      r.code,
    );
    const unknown = report.results.find((x) => x.id === "preflight")!.findings.find((f) => f.code === "NODE_UNKNOWN");
    expect(unknown?.node).toBe("OCTO9");
    expect(unknown?.fix).toContain(`a node still to be added joins with \`octoha join OCTO9 --plan ${JSON.stringify(spaced)}\`.`);
    expect(unknown?.fix).not.toContain("PLAN");
  });

  it("with a secret unset it exits 2 and does not reach Octopus", async () => {
    const r = await runCli(["check", planFile], { env: cleanEnv({ OCTOHA_DEMO_API_KEY: standin.apiKey }) });
    expect(r.code).toBe(2);
    expect(r.stdout).toContain("OCTOHA_DEMO_SQL_CONNECTION_STRING");
    expect(r.stdout).toContain("Preflight not run");
  });
});
