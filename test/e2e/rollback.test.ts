/**
 * Rollback of the real migration and repair, end to end, from a cluster that is NOT in its default
 * state (maintenance mode already on, OCTO2 already draining with task cap 3, OCTO1 with task cap 7):
 * - stopped after every step before the point of no return (SIGKILL, or the first approval gate
 *   without --yes), `rollback --yes` puts Octopus back exactly (maintenance, drain flags, task caps,
 *   folders, services), removes the shared folders it created only when empty, never touches a source;
 * - once nodes have started on the new folders, `rollback` refuses with exit 1 and the reason, and
 *   undoes nothing; the run can still be resumed, and at its end restores that exact before-state.
 * Kill points ("applied" or "verified") come from a seeded PRNG: E2E_SEED replays one.
 *
 * Most kills (and the rollbacks and resumes after them) run octoha in this process and simulate the kill
 * at the journal record (octohaInProcess; expectStoppedAtPlannedPoint also checks the run had no effect
 * after it). The kills after REAL_KILLS are real: a child SIGKILLs itself, leaves its lock stale, and a
 * child rollback takes that lock over (one before the point of no return, one right past it).
 */
import { existsSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { lockFile } from "../../src/runner/lock.js";
import {
  describeChild,
  endState,
  expectKilledAtPlannedPoint,
  expectStoppedAtPlannedPoint,
  octoha,
  octohaInProcess,
  octopusState,
  prng,
  sharedRoot,
  startCase,
  verbFor,
  type ChildResult,
  type E2eCase,
  type KillSpec,
  type Workflow,
} from "./crash-harness.js";

const SEED = Number(process.env.E2E_SEED ?? 20261127);
/** Nodes still answer 503 for a while after they start (two polls of the start wait), just not for 2 s. */
const STARTUP_MS = 300;
const BEFORE = { maintenance: true, nodes: { OCTO1: { maxConcurrentTasks: 7 }, OCTO2: { isDraining: true, maxConcurrentTasks: 3 } } };
/** The first step past which a rollback must refuse. */
const POINT_OF_NO_RETURN = "start-services";
/** The steps after which a real child process is SIGKILLed (and rolled back by a child): every workflow has both. */
const REAL_KILLS = new Set(["stop-services", POINT_OF_NO_RETURN]);

const outcomeOf = (r: ChildResult) => r.outcome;

const afterStep = (stepId: string, random: () => number): KillSpec => ({ type: random() < 0.5 ? "step-verified" : "step-applied", stepId });

const TOOK_OVER = /Took over the lock of run/;
/** What an in-process kill cannot show: a killed process leaves its state lock behind, for the next command to take over. */
const expectStaleLock = (c: E2eCase, where: string) =>
  expect(existsSync(lockFile(c.stateDir)), `${where}: the killed run left no lock behind`).toBe(true);

const opened: E2eCase[] = [];
afterAll(async () => {
  await Promise.all(opened.splice(0).map((c) => c.close()));
});

const STEPS: Record<Workflow, string[]> = {
  migrate: [
    "preflight",
    "provision-storage",
    "preseed",
    "drain-nodes",
    "maintenance-on",
    "stop-services",
    "copy-task-logs",
    "copy-artifacts",
    "copy-packages",
    "verify-copy",
    "repath",
    "start-services",
    "verify-octopus",
    "maintenance-off",
    "undrain",
  ],
  repair: [
    "preflight",
    "provision-storage",
    "drain-nodes",
    "maintenance-on",
    "stop-services",
    "repath",
    "copy-task-logs",
    "copy-artifacts",
    "copy-packages",
    "verify-copy",
    "start-services",
    "verify-octopus",
    "maintenance-off",
    "undrain",
  ],
};

describe.concurrent("rollback from after every step", () => {
  it.each(["migrate", "repair"] as const)(
    "%s: before the point of no return, rollback puts a non-default cluster back exactly; after it, rollback refuses and the finished run restores that cluster",
    async (w) => {
      const random = prng(SEED + (w === "migrate" ? 1 : 2));
      const c = await startCase({ before: BEFORE, startupMs: STARTUP_MS });
      opened.push(c);
      const before = await endState(c);
      expect(before.octopus.maintenance).toBe(true);
      const sourceHashes = new Set(Object.values(before.nodes));
      const steps = STEPS[w];
      const ponr = steps.indexOf(POINT_OF_NO_RETURN);
      let everCopied = false;

      expect(
        [...REAL_KILLS].filter((id) => steps.includes(id)),
        "every real kill point is a step of the workflow",
      ).toEqual([...REAL_KILLS]);
      for (let k = 0; k < ponr; k++) {
        const where = `${w}, seed ${SEED}, stopped after ${steps[k]}`;
        // Stopped by the first approval gate (maintenance-on) without --yes, or killed.
        const viaGate = steps[k + 1] === "maintenance-on";
        const real = REAL_KILLS.has(steps[k]!);
        const r = viaGate
          ? await octohaInProcess(c, verbFor(w), { noYes: true })
          : real
            ? await octoha(c, verbFor(w), { killOn: afterStep(steps[k]!, random) })
            : await octohaInProcess(c, verbFor(w), { killOn: afterStep(steps[k]!, random) });
        if (viaGate) {
          expect(r.code, `${where}: ${describeChild(r)}`).toBe(3);
          expect(outcomeOf(r)?.status).toBe("awaiting-approval");
        } else if (real) {
          expectKilledAtPlannedPoint(r, where);
        } else {
          await expectStoppedAtPlannedPoint(r, where);
        }

        if (real) expectStaleLock(c, where);
        const rb = real ? await octoha(c, "rollback") : await octohaInProcess(c, "rollback");
        expect(rb.code, `${where}: rollback\n${describeChild(rb)}`).toBe(4);
        if (real) expect(rb.stdout + rb.stderr, `${where}: the rollback did not take the dead run's lock over`).toMatch(TOOK_OVER);
        expect(outcomeOf(rb)?.status).toBe("rolled-back");
        const after = await endState(c);
        expect(after.octopus, `${where}: Octopus is not back as it was`).toEqual(before.octopus);
        expect(after.nodes, `${where}: a source file changed`).toEqual(before.nodes);
        const shared = Object.entries(after.shared);
        expect(
          shared.filter(([p]) => p.endsWith(".octoha-tmp")),
          where,
        ).toEqual([]);
        // What was copied stays (copy never deletes), byte for byte a copy of some node's file.
        expect(
          shared.filter(([, hash]) => !sourceHashes.has(hash)).map(([p]) => p),
          where,
        ).toEqual([]);
        everCopied ||= shared.length > 0;
        // The shared folders this run created are removed when (and only when) they are empty.
        if (!everCopied) expect(existsSync(sharedRoot(c)), `${where}: an empty shared folder octoha created was left behind`).toBe(false);
      }

      // Past the point of no return: a rollback after any later step refuses and changes nothing.
      for (let k = ponr; k < steps.length; k++) {
        const where = `${w}, seed ${SEED}, stopped after ${steps[k]}`;
        const real = REAL_KILLS.has(steps[k]!);
        const verb = k === ponr ? verbFor(w) : "resume";
        const r = real
          ? await octoha(c, verb, { killOn: afterStep(steps[k]!, random) })
          : await octohaInProcess(c, verb, { killOn: afterStep(steps[k]!, random) });
        if (real) expectKilledAtPlannedPoint(r, where);
        else await expectStoppedAtPlannedPoint(r, where);
        if (real) expectStaleLock(c, where);
        const stopped = octopusState(c.standin);
        const rb = real ? await octoha(c, "rollback") : await octohaInProcess(c, "rollback");
        expect(rb.code, `${where}: rollback must refuse\n${describeChild(rb)}`).toBe(1);
        if (real) expect(rb.stdout + rb.stderr, `${where}: the rollback did not take the dead run's lock over`).toMatch(TOOK_OVER);
        const outcome = outcomeOf(rb);
        expect(outcome?.status).toBe("rollback-incomplete");
        expect(outcome?.undone, where).toEqual([]);
        expect(outcome?.undoProblems?.[0]).toMatchObject({ stepId: "repath", kind: "refused" });
        expect(outcome?.undoProblems?.[0]?.reason, where).toMatch(/started on the new folders/);
        // What it prints next would work: resume (the same rollback refuses again), or undo only the steps after repath.
        const after = steps[steps.indexOf("repath") + 1]!;
        expect(outcome?.nextCommand, where).toBe(`octoha resume ${c.planFile} --run ${outcome?.runId}`);
        expect(outcome?.partialRollbackCommand, where).toBe(`octoha rollback ${c.planFile} --run ${outcome?.runId} --to ${after} --yes`);
        expect(octopusState(c.standin), `${where}: a refused rollback changed Octopus`).toEqual(stopped);
      }
      const done = await octohaInProcess(c, "resume");
      expect(done.code, `${w}, seed ${SEED}: final resume\n${describeChild(done)}`).toBe(0);

      // The finished run restores the exact non-default before-state, on the shared folders.
      const end = octopusState(c.standin);
      expect(end.maintenance).toBe(true);
      expect(
        end.nodes.map((n) => ({ name: n.name, isDraining: n.isDraining, maxConcurrentTasks: n.maxConcurrentTasks, running: n.running })),
      ).toEqual([
        { name: "OCTO1", isDraining: false, maxConcurrentTasks: 7, running: true },
        { name: "OCTO2", isDraining: true, maxConcurrentTasks: 3, running: true },
      ]);
      expect(end.folders.taskLogs).toBe("\\\\fs01\\OctopusShared\\TaskLogs");
      expect(end.nodes.every((n) => n.effectiveFolders.taskLogs === end.folders.taskLogs)).toBe(true);
    },
    480_000,
  );
});
