/**
 * The audit's two damaged journals, against the stand-in cluster: a byte flip that leaves valid
 * JSON (a rollback restored task cap 9 instead of 5) and a journal cut in the middle (a resumed run
 * recorded the drained cluster as its before-state and left the nodes draining, exit 0). Both are
 * now refused with file:line, exit 2, and Octopus is not touched; the intact journal still works.
 * The kills are real (SIGKILLed children); the commands after them run in this process (octohaInProcess).
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  describeChild,
  expectKilledAtPlannedPoint,
  octoha,
  octohaInProcess,
  octopusState,
  startCase,
  type E2eCase,
} from "./crash-harness.js";

const opened: E2eCase[] = [];
afterAll(async () => {
  await Promise.all(opened.splice(0).map((c) => c.close()));
});

/** Nodes still answer 503 for a while after they start, just not for the stand-in's 2 s. */
const STARTUP_MS = 300;
const BEFORE = { nodes: { OCTO1: { maxConcurrentTasks: 5 } } };

/** The journal of the case's one run. */
function journalOf(c: E2eCase): string {
  const runs = readdirSync(path.join(c.stateDir, "runs"));
  expect(runs).toHaveLength(1);
  return path.join(c.stateDir, "runs", runs[0]!, "journal.jsonl");
}

describe.concurrent("a damaged journal against the stand-in cluster", () => {
  it("a task cap flipped from 5 to 9 in drain-nodes' record (valid JSON) is refused by rollback; the intact journal restores 5", async () => {
    const c = await startCase({ before: BEFORE, startupMs: STARTUP_MS });
    opened.push(c);
    const killed = await octoha(c, "repair", { killOn: { type: "step-applied", stepId: "drain-nodes" } });
    expectKilledAtPlannedPoint(killed, "repair killed after drain-nodes");
    const file = journalOf(c);
    const intact = readFileSync(file, "utf8");
    const lines = intact.split("\n");
    const at = lines.findIndex((l) => l.includes('"t":"applied","stepId":"drain-nodes"'));
    expect(lines[at]).toContain('"name":"OCTO1","isDraining":false,"maxConcurrentTasks":5}');
    lines[at] = lines[at]!.replace(
      '"name":"OCTO1","isDraining":false,"maxConcurrentTasks":5}',
      '"name":"OCTO1","isDraining":false,"maxConcurrentTasks":9}',
    );
    writeFileSync(file, lines.join("\n"));
    const drained = octopusState(c.standin);
    expect(drained.nodes.find((n) => n.name === "OCTO1")).toMatchObject({ isDraining: true, maxConcurrentTasks: 5 });

    const refused = await octohaInProcess(c, "rollback");
    expect(refused.code, describeChild(refused)).toBe(2);
    expect(refused.stdout + refused.stderr).toContain(`${file}:${at + 1} is damaged: its checksum does not match`);
    expect(octopusState(c.standin), "a refused rollback changed Octopus").toEqual(drained);

    writeFileSync(file, intact);
    const back = await octohaInProcess(c, "rollback");
    expect(back.code, describeChild(back)).toBe(4);
    expect(octopusState(c.standin).nodes.find((n) => n.name === "OCTO1")).toMatchObject({ isDraining: false, maxConcurrentTasks: 5 });
  });

  it("a journal cut in the middle is refused by resume (not taken for a torn last line); the intact journal finishes with the nodes undrained", async () => {
    const c = await startCase({ before: BEFORE, startupMs: STARTUP_MS });
    opened.push(c);
    const killed = await octoha(c, "repair", { killOn: { type: "step-applied", stepId: "maintenance-on" } });
    expectKilledAtPlannedPoint(killed, "repair killed after maintenance-on");
    const file = journalOf(c);
    const intact = readFileSync(file);
    writeFileSync(file, intact.subarray(0, Math.floor(intact.length / 2)));
    const stopped = octopusState(c.standin);
    expect(stopped.maintenance).toBe(true);

    const refused = await octohaInProcess(c, "resume");
    expect(refused.code, describeChild(refused)).toBe(2);
    expect(refused.stdout + refused.stderr).toMatch(
      /is damaged: it ends after record \d+, but record \d+ was written \(journal.head\): the end of the journal is missing/,
    );
    expect(octopusState(c.standin), "a refused resume changed Octopus").toEqual(stopped);

    writeFileSync(file, intact);
    const done = await octohaInProcess(c, "resume");
    expect(done.code, describeChild(done)).toBe(0);
    const end = octopusState(c.standin);
    expect(end.maintenance).toBe(false);
    expect(end.nodes.map((n) => ({ name: n.name, isDraining: n.isDraining, maxConcurrentTasks: n.maxConcurrentTasks }))).toEqual([
      { name: "OCTO1", isDraining: false, maxConcurrentTasks: 5 },
      { name: "OCTO2", isDraining: false, maxConcurrentTasks: expect.any(Number) },
    ]);
  });
});
