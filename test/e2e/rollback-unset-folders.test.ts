/**
 * Rollback to the exact start when the run sets folder keys nobody had set. A single node usually has
 * no ClusterShared (it then resolves to the Home folder) and no Imports (a child of ClusterShared);
 * `path` cannot unset a key, so rollback must write the folders they resolved to explicitly, say so,
 * and a refused rollback's manual `path` command must include them. Otherwise ClusterShared keeps
 * pointing at the share after "rolled back", and whatever follows it (Telemetry, Imports) moves there.
 * The kill mid-copy is a real SIGKILL; the kill after start-services and the rollbacks run in this process
 * (octohaInProcess). Nodes start in 300 ms, not the stand-in's 2 s.
 */
import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { configValue, parseShowConfiguration } from "../../src/octopus/cli/folders.js";
import type { PlanInput } from "../../src/plan/schema.js";
import {
  describeChild,
  expectKilledAtPlannedPoint,
  expectStoppedAtPlannedPoint,
  octoha,
  octohaInProcess,
  sharedRoot,
  startCase,
} from "./crash-harness.js";
import type { ChildResult, E2eCase } from "./crash-harness.js";

const SHARE = "\\\\fs01\\OctopusShared";
const STARTUP_MS = 300;
const opened: E2eCase[] = [];
afterAll(async () => {
  await Promise.all(opened.splice(0).map((c) => c.close()));
});

/** A cluster whose plan also moves ClusterShared and Imports to the share (neither is set on the cluster). */
async function caseWithClusterShared(): Promise<E2eCase> {
  const c = await startCase({ startupMs: STARTUP_MS });
  opened.push(c);
  const plan = JSON.parse(await readFile(c.planFile, "utf8")) as PlanInput;
  plan.shared.clusterShared = { octopus: SHARE, access: sharedRoot(c) };
  plan.shared.imports = { octopus: `${SHARE}\\Imports`, access: path.join(sharedRoot(c), "Imports") };
  await writeFile(c.planFile, `${JSON.stringify(plan, null, 2)}\n`);
  return c;
}

/** The folders Octopus uses, as its show-configuration tells them: a key not printed resolves from Octopus.Home. */
async function effectiveFolders(c: E2eCase): Promise<{ clusterShared: string; imports: string; printed: string[] }> {
  const args = ["show-configuration", "--format=json-hierarchical", "--noconsolelogging"];
  const { stdout } = await promisify(execFile)(c.standin.serverExe, args);
  const config = parseShowConfiguration(stdout);
  const value = (key: string) => configValue(config, key) as string | undefined;
  const home = value("Octopus.Home")!;
  const clusterShared = value("Octopus.Folders.ClusterSharedDirectory") ?? home;
  const imports = value("Octopus.Folders.ImportsDirectory") ?? `${clusterShared}\\Imports`;
  const printed = ["ClusterSharedDirectory", "ImportsDirectory"].filter((k) => value(`Octopus.Folders.${k}`) !== undefined);
  return { clusterShared, imports, printed };
}

const outcomeOf = (r: ChildResult) => r.outcome;

describe.concurrent("rollback puts back folder keys that were not set before the run", () => {
  it("killed during the task-log copy of a repair, rollback exits 4 with ClusterShared and Imports back on the Home folder, now set explicitly, and says so", async () => {
    const c = await caseWithClusterShared();
    const before = await effectiveFolders(c);
    expect(before).toEqual({ clusterShared: "C:\\Octopus", imports: "C:\\Octopus\\Imports", printed: [] });
    const storedBefore = c.standin.cluster.state().folders;

    const r = await octoha(c, "repair", { killOn: { type: "mid-copy", stepId: "copy-task-logs", kind: "taskLogs" } });
    expectKilledAtPlannedPoint(r, "repair killed mid-copy");
    expect(c.standin.cluster.state().folders.clusterShared).toBe(SHARE);

    const rb = await octohaInProcess(c, "rollback");
    expect(rb.code, describeChild(rb)).toBe(4);
    expect(outcomeOf(rb)?.status).toBe("rolled-back");
    expect(await effectiveFolders(c)).toEqual({ ...before, printed: ["ClusterSharedDirectory", "ImportsDirectory"] });
    expect(c.standin.cluster.state().folders).toEqual({ ...storedBefore, clusterShared: "C:\\Octopus", imports: "C:\\Octopus\\Imports" });
    const said = rb.events.find((e) => e.type === "step-progress" && e.stepId === "repath");
    expect(said?.event?.data).toEqual({ nowExplicit: { clusterShared: "C:\\Octopus", imports: "C:\\Octopus\\Imports" } });
  });

  it("past the point of no return, the refusal's manual path command also writes back ClusterShared and Imports", async () => {
    const c = await caseWithClusterShared();
    const r = await octohaInProcess(c, "repair", { killOn: { type: "step-applied", stepId: "start-services" } });
    await expectStoppedAtPlannedPoint(r, "repair killed after start-services");
    const rb = await octohaInProcess(c, "rollback");
    expect(rb.code, describeChild(rb)).toBe(1);
    const reason = outcomeOf(rb)?.undoProblems?.[0]?.reason ?? "";
    expect(reason).toMatch(/started on the new folders/);
    expect(reason).toContain("path --instance OctopusServer --clusterShared C:\\Octopus --taskLogs C:\\Octopus\\TaskLogs");
    expect(reason).toContain("--imports C:\\Octopus\\Imports");
    expect(c.standin.cluster.state().folders.clusterShared).toBe(SHARE);
  });
});
