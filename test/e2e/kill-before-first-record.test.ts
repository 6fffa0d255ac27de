/**
 * A `repair` SIGKILLed between taking the state lock and its first journal record (issue 10's soak:
 * "a re-run after SIGKILL exited non-zero once under heavy load"). That run changed nothing, yet it
 * left the state directory so that nothing continued: its lock (a new `repair` refused it as stale,
 * exit 1, and `resume` found no run or a run without a workflow, exit 2), and, killed between
 * creating journal.head and writing it, an empty head that every later command refused as a damaged
 * journal (exit 2). The kills land exactly there through fixtures/kill-on-open.mjs; on a loaded
 * machine a kill from outside hits these few milliseconds only by luck.
 *
 * The kills are real (a child SIGKILLs itself, its lock stays behind with a dead pid); the commands run
 * after them run in this process (octohaInProcess), which saves a node start each, and take that lock the
 * same way. Nodes start in 300 ms instead of the stand-in's 2 s.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { describeChild, octoha, octohaInProcess, octopusState, startCase, type E2eCase, type KillOnOpenSpec } from "./crash-harness.js";

const opened: E2eCase[] = [];
afterAll(async () => {
  await Promise.all(opened.splice(0).map((c) => c.close()));
});

const STARTUP_MS = 300;

const runsOf = (c: E2eCase) => (existsSync(path.join(c.stateDir, "runs")) ? readdirSync(path.join(c.stateDir, "runs")) : []);

async function killedBeforeFirstRecord(kill: KillOnOpenSpec): Promise<E2eCase> {
  const c = await startCase({ tasksPerNode: 3, startupMs: STARTUP_MS });
  opened.push(c);
  const killed = await octoha(c, "repair", { killOnOpen: kill });
  expect(killed.signal, describeChild(killed)).toBe("SIGKILL");
  expect(existsSync(path.join(c.stateDir, "lock.json")), "the killed run left its lock").toBe(true);
  return c;
}

async function expectSameCommandFinishes(c: E2eCase): Promise<void> {
  const again = await octohaInProcess(c, "repair");
  expect(again.code, describeChild(again)).toBe(0);
  expect(again.stdout + again.stderr).toMatch(/Took over the lock of run/);
  const st = octopusState(c.standin);
  expect(st.maintenance).toBe(false);
  expect(st.nodes.every((n) => n.running && !n.isDraining && n.effectiveFolders.taskLogs === "\\\\fs01\\OctopusShared\\TaskLogs")).toBe(
    true,
  );
  // Only the finished run is left: resume and status see it, not the empty one.
  expect(runsOf(c)).toHaveLength(1);
  expect(existsSync(path.join(c.stateDir, "lock.json"))).toBe(false);
}

// Concurrent: every test has its own stand-in, folders and secret variable names.
describe.concurrent("SIGKILL before a run's first journal record", () => {
  it("killed right after creating journal.head: the head is whole, resume says the run recorded nothing (exit 2), and the same repair finishes", async () => {
    const c = await killedBeforeFirstRecord({ suffix: "journal.head" });
    const [runId] = runsOf(c);
    const head = readFileSync(path.join(c.stateDir, "runs", runId!, "journal.head"), "utf8");
    expect(head, "journal.head must never be seen empty").toMatch(/^\{"seq":0,"sum":""\}/);
    const resumed = await octohaInProcess(c, "resume");
    expect(resumed.code, describeChild(resumed)).toBe(2);
    expect(resumed.stderr).toMatch(/recorded nothing: it was stopped before its first journal record, so it changed nothing/);
    expect(resumed.stderr).not.toMatch(/damaged/);
    await expectSameCommandFinishes(c);
  }, 240_000);

  it("killed right after taking the state lock, before its run folder exists: the same repair takes the dead run's lock over and finishes", async () => {
    const c = await killedBeforeFirstRecord({ suffix: "lock.json", call: "link" });
    expect(runsOf(c)).toEqual([]);
    await expectSameCommandFinishes(c);
  }, 240_000);

  it("killed after its read-only preflight, before any step changed anything: the same repair takes the dead run's lock over and finishes", async () => {
    const c = await startCase({ tasksPerNode: 3, startupMs: STARTUP_MS });
    opened.push(c);
    const killed = await octoha(c, "repair", { killOn: { type: "step-applied", stepId: "preflight" } });
    expect(killed.signal, describeChild(killed)).toBe("SIGKILL");
    const [abandoned] = runsOf(c);
    const again = await octohaInProcess(c, "repair");
    expect(again.code, describeChild(again)).toBe(0);
    expect(again.stdout + again.stderr).toMatch(/Took over the lock of run/);
    expect(again.stdout + again.stderr).toContain(`Run ${abandoned} was stopped before any step changed anything`);
    expect(
      octopusState(c.standin).nodes.every((n) => n.running && n.effectiveFolders.taskLogs === "\\\\fs01\\OctopusShared\\TaskLogs"),
    ).toBe(true);
    expect(existsSync(path.join(c.stateDir, "lock.json"))).toBe(false);
  }, 240_000);

  it("a dead run that changed something keeps its lock against a new repair (exit 1, stale lock, resume named): only resume continues it", async () => {
    const c = await startCase({ tasksPerNode: 3, startupMs: STARTUP_MS });
    opened.push(c);
    const killed = await octoha(c, "repair", { killOn: { type: "step-applied", stepId: "drain-nodes" } });
    expect(killed.signal, describeChild(killed)).toBe("SIGKILL");
    // A child, for the refusal's hint as the command line prints it: the way on is resume, which takes the lock over.
    const again = await octoha(c, "repair");
    expect(again.code, describeChild(again)).toBe(1);
    const said = again.stdout + again.stderr;
    expect(said).toMatch(/has a stale lock/);
    expect(said).toContain("Continuing that run takes its lock over, no unlock needed:");
    expect(said).toContain(`octoha resume ${c.planFile} --run ${runsOf(c)[0]}`);
    expect(said).not.toContain("PLAN");
    const resumed = await octohaInProcess(c, "resume");
    expect(resumed.code, describeChild(resumed)).toBe(0);
  }, 240_000);
});
