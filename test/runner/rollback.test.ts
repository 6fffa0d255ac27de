import { afterEach, describe, expect, it } from "vitest";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { runSteps } from "../../src/runner/run-steps.js";
import type { JournalRecord } from "../../src/runner/journal.js";
import { Redactor } from "../../src/shared/redact.js";
import { OctohaError } from "../../src/shared/errors.js";
import { readWorld, RecordingView, settingStep, tempDir, type SettingStepOptions } from "./helpers.js";

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

function setup(overrides: Partial<Record<number, Partial<SettingStepOptions>>> = {}) {
  const t = tempDir();
  cleanups.push(t.cleanup);
  const worldFile = path.join(t.dir, "world.json");
  const initial = { a: "a0", b: "b0", d: "d0" };
  // c does not exist before the run: its rollback must delete it again.
  writeFileSync(worldFile, JSON.stringify(initial));
  const undoLog: string[] = [];
  const keys = ["a", "b", "c", "d"];
  const steps = keys.map((k, i) => settingStep(worldFile, `set-${k}`, k, `${k}1`, { undoLog, ...overrides[i] }));
  const base = {
    stateDir: path.join(t.dir, "state"),
    steps,
    approve: "yes" as const,
    signal: new AbortController().signal,
    redactor: new Redactor(),
  };
  return { worldFile, initial, undoLog, steps, base };
}

describe("rollback", () => {
  for (let after = 0; after <= 4; after++) {
    it(`rollback after ${after} applied step(s) restores every recorded before-state, newest first`, async () => {
      const failAt = after < 4 ? { [after]: { failApply: new OctohaError("boom", { code: "TEST_FAIL" }) } } : {};
      const s = setup(failAt);
      const run = await runSteps({ ...s.base, mode: "run", view: new RecordingView() });
      expect(run.exitCode).toBe(after < 4 ? 1 : 0);
      const back = await runSteps({ ...s.base, mode: "rollback", runId: run.runId, view: new RecordingView() });
      expect(back.status).toBe("rolled-back");
      expect(back.exitCode).toBe(4);
      expect(readWorld(s.worldFile)).toEqual(s.initial);
      // The failing step checkpointed its before-state, so it is undone too (it may have half-applied).
      const touched = ["set-a", "set-b", "set-c", "set-d"].slice(0, Math.min(after + 1, 4));
      expect(s.undoLog).toEqual([...touched].reverse());
    });
  }

  it("a rollback killed part-way and run again lists the steps it undid, and those the killed one undid before", async () => {
    const s = setup();
    const run = await runSteps({ ...s.base, mode: "run", view: new RecordingView() });
    expect(run.exitCode).toBe(0);
    // Killed (as a kill -9 would leave it) right after its second undo is on disk: the journal says rollingBack.
    const killed = new Error("simulated kill");
    let undos = 0;
    const hooks = {
      afterJournalWrite: (_n: number, r: JournalRecord) => {
        if (r.t === "rolled-back" && ++undos === 2) throw killed;
      },
    };
    const first = await runSteps({ ...s.base, mode: "rollback", runId: run.runId, view: new RecordingView(), hooks }).catch(
      (e: unknown) => e,
    );
    expect(first).toBe(killed);
    expect(s.undoLog).toEqual(["set-d", "set-c"]);
    const again = await runSteps({ ...s.base, mode: "rollback", runId: run.runId, view: new RecordingView() });
    expect(again).toMatchObject({ status: "rolled-back", undone: ["set-b", "set-a"], undoneEarlier: ["set-d", "set-c"] });
    expect(s.undoLog).toEqual(["set-d", "set-c", "set-b", "set-a"]);
    // Once more on the rolled-back run: nothing left, and the earlier undos still said.
    const third = await runSteps({ ...s.base, mode: "rollback", runId: run.runId, view: new RecordingView() });
    expect(third).toMatchObject({ status: "rolled-back", undone: [], undoneEarlier: ["set-d", "set-c", "set-b", "set-a"] });
  });

  it("a step past its point of no return refuses rollback with the reason, and earlier steps stay applied", async () => {
    const s = setup({ 2: { refuseRollback: "Octopus already wrote new task logs to the shared folder" } });
    const run = await runSteps({ ...s.base, mode: "run", view: new RecordingView() });
    expect(run.exitCode).toBe(0);
    const view = new RecordingView();
    const back = await runSteps({ ...s.base, mode: "rollback", runId: run.runId, view });
    expect(back.exitCode).toBe(1);
    expect(back.status).toBe("rollback-incomplete");
    expect(back.undoProblems).toEqual([
      { stepId: "set-c", kind: "refused", reason: "Octopus already wrote new task logs to the shared folder" },
    ]);
    expect(s.undoLog).toEqual(["set-d"]);
    expect(readWorld(s.worldFile)).toEqual({ a: "a1", b: "b1", c: "c1", d: "d0" });
    expect(view.notices).toContainEqual({
      type: "undo-refused",
      stepId: "set-c",
      reason: "Octopus already wrote new task logs to the shared folder",
    });
  });

  it("a step that says up front it would refuse stops the rollback before anything is undone, newer steps included", async () => {
    const s = setup();
    const reason = "nodes started on the new folders";
    const steps = s.steps.map((step, i) => (i === 1 ? { ...step, rollbackRefusal: () => Promise.resolve(reason) } : step));
    const run = await runSteps({ ...s.base, steps, mode: "run", view: new RecordingView() });
    expect(run.exitCode).toBe(0);
    const view = new RecordingView();
    const back = await runSteps({ ...s.base, steps, mode: "rollback", runId: run.runId, view });
    expect(back.exitCode).toBe(1);
    expect(back.undone).toEqual([]);
    expect(back.undoProblems).toEqual([{ stepId: "set-b", kind: "refused", reason }]);
    expect(s.undoLog).toEqual([]);
    expect(readWorld(s.worldFile)).toEqual({ a: "a1", b: "b1", c: "c1", d: "d1" });
    // rollback --to a step after the refusing one is still allowed.
    const partial = await runSteps({
      ...s.base,
      steps,
      mode: "rollback",
      runId: run.runId,
      rollbackTo: "set-c",
      view: new RecordingView(),
    });
    expect(partial.exitCode).toBe(4);
    expect(s.undoLog).toEqual(["set-d", "set-c"]);
  });

  it("rollback --to STEP stops after undoing that step, and resume re-applies from there", async () => {
    const s = setup();
    const run = await runSteps({ ...s.base, mode: "run", view: new RecordingView() });
    const back = await runSteps({ ...s.base, mode: "rollback", runId: run.runId, rollbackTo: "set-c", view: new RecordingView() });
    expect(back.exitCode).toBe(4);
    expect(s.undoLog).toEqual(["set-d", "set-c"]);
    expect(readWorld(s.worldFile)).toEqual({ a: "a1", b: "b1", d: "d0" });
    const again = await runSteps({ ...s.base, mode: "resume", runId: run.runId, view: new RecordingView() });
    expect(again.exitCode).toBe(0);
    expect(readWorld(s.worldFile)).toEqual({ a: "a1", b: "b1", c: "c1", d: "d1" });
  });

  it("a step whose policy says onFailure: rollback undoes the run by itself and exits 4", async () => {
    const s = setup({ 2: { failApply: new OctohaError("disk full", { code: "TEST_FAIL" }), onFailure: "rollback" } });
    const run = await runSteps({ ...s.base, mode: "run", view: new RecordingView() });
    expect(run.exitCode).toBe(4);
    expect(s.undoLog).toEqual(["set-c", "set-b", "set-a"]);
    expect(readWorld(s.worldFile)).toEqual(s.initial);
  });

  it("rollback without --yes and without a terminal changes nothing and prints the command to confirm", async () => {
    const s = setup();
    const run = await runSteps({ ...s.base, mode: "run", view: new RecordingView() });
    const back = await runSteps({ ...s.base, mode: "rollback", approve: "no", runId: run.runId, view: new RecordingView() });
    expect(back.exitCode).toBe(3);
    expect(back.nextCommand).toBe(`octoha rollback --state-dir ${s.base.stateDir} --run ${run.runId} --yes`);
    expect(readWorld(s.worldFile)).toEqual({ a: "a1", b: "b1", c: "c1", d: "d1" });
  });
});

describe("interrupted rollback", () => {
  it("Ctrl-C during an undo exits 3 with the rollback command, and running it finishes the rollback", async () => {
    const s = setup();
    const run = await runSteps({ ...s.base, mode: "run", view: new RecordingView() });
    const slow = s.steps[2]!;
    const original = slow.rollback.bind(slow);
    const controller = new AbortController();
    let blockOnce = true;
    slow.rollback = (ctx, r) => {
      if (!blockOnce) return original(ctx, r);
      blockOnce = false;
      controller.abort();
      return Promise.reject(new Error("stopped by Ctrl-C before undoing"));
    };
    const stopped = await runSteps({ ...s.base, mode: "rollback", runId: run.runId, signal: controller.signal, view: new RecordingView() });
    expect(stopped.exitCode).toBe(3);
    expect(stopped.nextCommand).toBe(`octoha rollback --state-dir ${s.base.stateDir} --run ${run.runId} --yes`);
    expect(s.undoLog).toEqual(["set-d"]);
    const finished = await runSteps({ ...s.base, mode: "rollback", runId: run.runId, view: new RecordingView() });
    expect(finished.exitCode).toBe(4);
    expect(s.undoLog).toEqual(["set-d", "set-c", "set-b", "set-a"]);
    expect(readWorld(s.worldFile)).toEqual(s.initial);
  });
});
