/**
 * An administrator edits the plan between a stopped run and its resume. Found by trying it: with the
 * shared folders moved to another share, the resume copied the rest into the new share, pointed
 * Octopus at it and failed only when Octopus could not read its task logs (maintenance mode left
 * on). Now the run records where its data goes, and a resume (or rollback) with a plan that says
 * otherwise is refused before anything is done; a plan corrected elsewhere (a timeout, a URL) resumes.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { octohaInProcess, sharedRoot, startCase, type E2eCase } from "./crash-harness.js";
import { readJournal } from "../../src/runner/journal.js";

const cases: E2eCase[] = [];
afterAll(async () => {
  for (const c of cases) await c.close();
});

describe("a plan edited between a stopped run and its resume", () => {
  it("its shared folders moved: resume and rollback are refused, naming each change, and nothing is done; put back, the run resumes to the end", async () => {
    const c = await startCase({ approvals: "auto" });
    cases.push(c);
    const first = await octohaInProcess(c, "run", { killOn: { type: "step-applied", stepId: "preseed" } });
    expect(first.simulatedKillAt?.record).toMatchObject({ t: "applied", stepId: "preseed" });
    const { runId, stateDir } = first.simulatedKillAt!;
    const original = readFileSync(c.planFile, "utf8");
    const moved = path.join(c.dir, "cluster", "shared2");
    writeFileSync(c.planFile, original.replaceAll("OctopusShared", "OctopusShared2").replaceAll(sharedRoot(c), moved));
    const journalBefore = (await readJournal(stateDir, runId)).records.length;

    for (const verb of ["resume", "rollback"] as const) {
      const refused = await octohaInProcess(c, verb);
      expect(refused.code, refused.stderr).toBe(2);
      expect(refused.stderr).toContain(`no longer says where run ${runId} reads and writes its data; nothing was done`);
      expect(refused.stderr).toContain(
        'shared.taskLogs.octopus: was "\\\\\\\\fs01\\\\OctopusShared\\\\TaskLogs", now "\\\\\\\\fs01\\\\OctopusShared2\\\\TaskLogs"',
      );
      expect(refused.stderr).toContain(`shared.taskLogs.access: was "${sharedRoot(c)}/TaskLogs", now "${moved}/TaskLogs"`);
    }
    expect((await readJournal(stateDir, runId)).records.length).toBe(journalBefore);
    expect(existsSync(moved)).toBe(false);
    expect(c.standin.cluster.nodes().every((n) => !n.isDraining)).toBe(true); // the next step (drain) never ran

    // Put back, with a change that decides nothing about the data: the run resumes to its end.
    writeFileSync(c.planFile, original.replace('"drainTimeoutMinutes": 1', '"drainTimeoutMinutes": 2'));
    expect(readFileSync(c.planFile, "utf8")).not.toBe(original);
    const resumed = await octohaInProcess(c, "resume");
    expect(resumed.code, resumed.stderr).toBe(0);
  }, 120_000);

  it("its shared Windows paths respelled only in case: the same folders to Octopus and Windows, so the run resumes to the end", async () => {
    const c = await startCase({ approvals: "auto" });
    cases.push(c);
    const first = await octohaInProcess(c, "run", { killOn: { type: "step-applied", stepId: "preseed" } });
    expect(first.simulatedKillAt?.record).toMatchObject({ t: "applied", stepId: "preseed" });
    const plan = JSON.parse(readFileSync(c.planFile, "utf8")) as { shared: Record<string, { octopus: string; access?: string }> };
    expect(plan.shared.taskLogs!.octopus).toBe("\\\\fs01\\OctopusShared\\TaskLogs");
    // The share's part only: below it the stand-in's folders are on this (case-sensitive) disk, as a Linux share's would be.
    for (const loc of Object.values(plan.shared)) loc.octopus = loc.octopus.replace("\\\\fs01\\OctopusShared", "\\\\FS01\\octopusshared");
    expect(plan.shared.taskLogs!.octopus).toBe("\\\\FS01\\octopusshared\\TaskLogs");
    // An access path on Linux is case-sensitive: another case there is another folder, still refused.
    const taskLogs = plan.shared.taskLogs!;
    const access = taskLogs.access!;
    taskLogs.access = `${path.dirname(access)}/tasklogs`;
    writeFileSync(c.planFile, JSON.stringify(plan, null, 2));
    const refused = await octohaInProcess(c, "resume");
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr).toContain(`shared.taskLogs.access: was "${access}", now "${path.dirname(access)}/tasklogs"`);
    expect(refused.stderr).not.toContain("octopus: was");

    taskLogs.access = access;
    writeFileSync(c.planFile, JSON.stringify(plan, null, 2));

    const resumed = await octohaInProcess(c, "resume");
    expect(resumed.code, `${resumed.stderr}${JSON.stringify(resumed.outcome)}`).toBe(0);
    expect(resumed.outcome?.status).toBe("done");
  }, 120_000);

  it("a node renamed only in case: refused, saying first that the node list changed and why that still counts", async () => {
    const c = await startCase({ approvals: "auto" });
    cases.push(c);
    const first = await octohaInProcess(c, "run", { killOn: { type: "step-applied", stepId: "preseed" } });
    const { runId } = first.simulatedKillAt!;
    const original = readFileSync(c.planFile, "utf8");
    const plan = JSON.parse(original) as { nodes: { name: string }[] };
    expect(plan.nodes.map((n) => n.name)).toEqual(["OCTO1", "OCTO2"]);
    plan.nodes[0]!.name = "octo1";
    writeFileSync(c.planFile, JSON.stringify(plan, null, 2));

    const refused = await octohaInProcess(c, "resume");
    expect(refused.code, refused.stderr).toBe(2);
    const lines = refused.stderr.split("\n");
    const head = lines.findIndex((l) => l.includes(`no longer says where run ${runId} reads and writes its data`));
    expect(lines[head + 1]).toBe(
      "  nodes: was OCTO1, OCTO2, now octo1, OCTO2 (OCTO1 → octo1 changes only the case: Octopus sees the same node, but this run recorded its copies and results under the old spelling)",
    );
    expect(refused.stderr).not.toContain("(not set)");

    writeFileSync(c.planFile, original);
    const resumed = await octohaInProcess(c, "resume");
    expect(resumed.code, resumed.stderr).toBe(0);
  }, 120_000);
});
