/**
 * A failed run offers its ways out: resume once the cause is fixed, and, when a step that changes
 * something recorded anything, the rollback that undoes the run, with the exact command. A workflow
 * may say what the run left in place, or that a rollback would refuse (then only resume is offered).
 */
import path from "node:path";
import { PassThrough } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import type { FailedRun, FailedRunNotes, RunOutcome } from "../../src/model/run.js";
import { HumanRunView } from "../../src/report/run-view.js";
import { runSteps } from "../../src/runner/run-steps.js";
import type { Step } from "../../src/runner/step.js";
import { OctohaError } from "../../src/shared/errors.js";
import { Redactor } from "../../src/shared/redact.js";
import { readWorld, RecordingView, settingStep, tempDir } from "./helpers.js";

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

const broken = () => new OctohaError("the share refused the write", { code: "SHARE_REFUSED" });

/** A read-only check that fails (a preflight that found a problem): nothing was changed. */
const failingCheck: Step = {
  id: "check",
  title: "check the world",
  readOnly: true,
  policy: { attempts: 1 },
  inspect: () => Promise.resolve({ changes: [], findings: [] }),
  apply: () => Promise.reject(broken()),
  verify: () => Promise.resolve({ ok: true, summary: "ok" }),
  rollback: () => Promise.resolve(),
};

function setup() {
  const t = tempDir();
  cleanups.push(t.cleanup);
  const world = path.join(t.dir, "world.json");
  const undoLog: string[] = [];
  const steps = (failSecond: boolean) => [
    settingStep(world, "a", "a", "1", { undoLog }),
    settingStep(world, "b", "b", "2", { undoLog, ...(failSecond ? { failApply: broken() } : {}) }),
  ];
  const base = { stateDir: path.join(t.dir, "state"), approve: "yes" as const, redactor: new Redactor(), view: new RecordingView() };
  return { world, undoLog, steps, base, signal: new AbortController().signal };
}

/** What the operator reads after the run (the human view of its outcome). */
function shown(outcome: RunOutcome): string {
  const err = new PassThrough();
  let text = "";
  err.on("data", (d: Buffer) => (text += d.toString()));
  new HumanRunView(new Redactor(), { out: new PassThrough(), err }).notify({ type: "outcome", outcome });
  return text;
}

describe("a failed run's ways out", () => {
  it("after a step changed something, offers resume and the exact rollback, and that rollback undoes the run", async () => {
    const s = setup();
    const failed = await runSteps({ ...s.base, steps: s.steps(true), mode: "run", signal: s.signal });
    expect(failed).toMatchObject({ status: "failed", exitCode: 1, failure: { stepId: "b" } });
    const rollback = `octoha rollback --state-dir ${s.base.stateDir} --run ${failed.runId}`;
    expect(failed.rollbackCommand).toBe(rollback);
    const text = shown(failed);
    expect(text).toContain(
      `Once the cause is fixed, finish the run:\n  octoha resume --state-dir ${s.base.stateDir} --run ${failed.runId}\n`,
    );
    expect(text).toContain(`Or undo the run, putting back everything it changed:\n  ${rollback}\n`);

    const back = await runSteps({ ...s.base, steps: s.steps(false), mode: "rollback", runId: failed.runId, signal: s.signal });
    expect(back.status).toBe("rolled-back");
    expect(s.undoLog).toEqual(["b", "a"]);
    expect(readWorld(s.world)).toEqual({});
  });

  it("a run whose read-only first step failed changed nothing: resume only, no rollback offered", async () => {
    const s = setup();
    const failed = await runSteps({ ...s.base, steps: [failingCheck, ...s.steps(false)], mode: "run", signal: s.signal });
    expect(failed).toMatchObject({ status: "failed", failure: { stepId: "check" } });
    expect(failed.rollbackCommand).toBeUndefined();
    const text = shown(failed);
    expect(text).toContain("To continue, run:\n  octoha resume");
    expect(text).not.toContain("rollback");
  });

  it("says what the workflow reports the run left in place, and offers no rollback the workflow says would refuse", async () => {
    const s = setup();
    const asked: FailedRun[] = [];
    const afterFailure = (f: FailedRun): FailedRunNotes => {
      asked.push(f);
      return { leftInPlace: "a is set to 1", rollback: false };
    };
    const failed = await runSteps({ ...s.base, steps: s.steps(true), mode: "run", signal: s.signal, afterFailure });
    expect(asked).toEqual([{ applied: ["a"], failedStepId: "b" }]);
    expect(failed).toMatchObject({ leftInPlace: "a is set to 1" });
    expect(failed.rollbackCommand).toBeUndefined();
    const text = shown(failed);
    expect(text).toContain("As the run left it: a is set to 1.\nTo continue, run:\n  octoha resume");
    expect(text).not.toContain("rollback");
  });
});
