import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { HumanRunView, JsonRunView } from "../../src/report/run-view.js";
import type { RunOutcome } from "../../src/model/run.js";
import { Redactor } from "../../src/shared/redact.js";

function capture() {
  const out = new PassThrough();
  const err = new PassThrough();
  const text = { out: "", err: "" };
  out.on("data", (d: Buffer) => (text.out += d.toString()));
  err.on("data", (d: Buffer) => (text.err += d.toString()));
  return { out, err, text };
}

const refused: RunOutcome = {
  status: "rollback-incomplete",
  exitCode: 1,
  runId: "r1",
  stateDir: "/s",
  journal: "/s/runs/r1/journal.jsonl",
  state: "failed",
  applied: ["a", "b"],
  undone: ["c"],
  undoProblems: [{ stepId: "b", kind: "refused", reason: "Octopus wrote new task logs there" }],
  nextCommand: "octoha rollback plan.json --run r1",
};

describe("run views", () => {
  it("the human view shows a file name's escape sequence, never passes it to the terminal", async () => {
    const c = capture();
    new HumanRunView(new Redactor(), c).notify({ type: "warning", message: "name problem TaskLogs/esc\u001b[2Jx\u0007.txt: contains '|'" });
    await new Promise((r) => setImmediate(r));
    expect(c.text.err).toBe("warning: name problem TaskLogs/esc\\u001b[2Jx\\u0007.txt: contains '|'\n");
  });

  it("the human view marks a step's warning as one (on stderr), its other lines not", async () => {
    const c = capture();
    const view = new HumanRunView(new Redactor(), c);
    view.notify({ type: "step-progress", stepId: "start-services", event: { level: "warn", message: "OCTO2 was running again" } });
    view.notify({ type: "step-progress", stepId: "start-services", event: { level: "info", message: "Waiting for OCTO1" } });
    await new Promise((r) => setImmediate(r));
    expect(c.text.err).toBe("    warning: OCTO2 was running again\n");
    expect(c.text.out).toBe("    Waiting for OCTO1\n");
  });

  it("a run stopped by Ctrl-C says what it left in place (e.g. maintenance mode on) before the command that continues it", () => {
    const c = capture();
    const stopped: RunOutcome = {
      status: "interrupted",
      exitCode: 3,
      runId: "r2",
      stateDir: "/s",
      journal: "/s/runs/r2/journal.jsonl",
      state: "interrupted",
      applied: ["drain-nodes", "maintenance-on"],
      undone: [],
      undoProblems: [],
      nextCommand: "octoha resume plan.json --run r2",
      leftInPlace: "maintenance mode is on and every node is draining (takes no new tasks)",
    };
    new HumanRunView(new Redactor(), c).notify({ type: "outcome", outcome: stopped });
    expect(c.text.out + c.text.err).toContain(
      "Run r2 stopped on request; everything done so far is journaled.\nAs the run left it: maintenance mode is on and every node is draining (takes no new tasks).\nTo continue, run:\n  octoha resume plan.json --run r2",
    );
  });

  it("the human view names the step that refused rollback, the reason, and the command to retry", () => {
    const c = capture();
    new HumanRunView(new Redactor(), c).notify({ type: "outcome", outcome: refused });
    expect(c.text.err).toContain("Step b refused to roll back: Octopus wrote new task logs there");
    expect(c.text.err).toContain("octoha rollback plan.json --run r1");
  });

  it("a refused rollback's reason is printed once: the live line points below, the outcome says why and what to do", () => {
    const c = capture();
    const view = new HumanRunView(new Redactor(), c);
    view.notify({ type: "undo-refused", stepId: "b", reason: "Octopus wrote new task logs there" });
    view.notify({ type: "outcome", outcome: refused });
    const text = c.text.out + c.text.err;
    expect(text.split("Octopus wrote new task logs there")).toHaveLength(2);
    expect(c.text.err).toContain("    b: refused to roll back (why, and what to do, below)\n");
    expect(c.text.err).toContain("Step b refused to roll back: Octopus wrote new task logs there");
  });

  it("a failed rollback's reason is printed once: the live line points below, the outcome says what failed and what to do", () => {
    const c = capture();
    const view = new HumanRunView(new Redactor(), c);
    const failed: RunOutcome = {
      ...refused,
      failure: { code: "UNDO_FAILED", message: "OCTO2 could not be pointed back", stepId: "b" },
      undoProblems: [{ stepId: "b", kind: "failed", reason: "OCTO2 could not be pointed back" }],
    };
    view.notify({ type: "undo-failed", stepId: "b", error: { code: "UNDO_FAILED", message: "OCTO2 could not be pointed back" } });
    view.notify({ type: "outcome", outcome: failed });
    const text = c.text.out + c.text.err;
    expect(text.split("OCTO2 could not be pointed back")).toHaveLength(2);
    expect(c.text.err).toContain("    b: rollback failed (why, and what to do, below)\n");
    expect(c.text.err).toContain("Step b failed to roll back: OCTO2 could not be pointed back");
  });

  it("a rollback run again after one stopped part-way says what it undid and what the earlier one undid", () => {
    const c = capture();
    const outcome: RunOutcome = {
      ...refused,
      status: "rolled-back",
      exitCode: 4,
      state: "rolledBack",
      undone: ["drain-nodes", "preflight"],
      undoneEarlier: ["stop-services", "maintenance-on"],
      undoProblems: [],
    };
    delete outcome.nextCommand;
    new HumanRunView(new Redactor(), c).notify({ type: "outcome", outcome });
    expect(c.text.err).toContain(
      "Run r1 rolled back: undid drain-nodes, preflight; an earlier rollback undid stop-services, maintenance-on.",
    );
    const c2 = capture();
    new HumanRunView(new Redactor(), c2).notify({ type: "outcome", outcome: { ...outcome, undone: [] } });
    expect(c2.text.err).toContain("Run r1 rolled back: nothing was left to undo; an earlier rollback undid stop-services, maintenance-on.");
  });

  it("the json view writes one redacted JSON object a line; the outcome is left to the verb's result envelope", () => {
    const c = capture();
    const r = new Redactor();
    r.add("hunter2-secret");
    const view = new JsonRunView(r, c);
    view.notify({ type: "warning", message: "connection Password=abc; token hunter2-secret" });
    view.notify({ type: "outcome", outcome: refused });
    const lines = c.text.out
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { type: string });
    expect(lines.map((l) => l.type)).toEqual(["warning"]);
    expect(c.text.out).not.toContain("hunter2-secret");
    expect(c.text.out).not.toContain("Password=abc");
  });

  it("on a terminal only an exact 'yes' approves, after saying what will change", async () => {
    for (const [answer, expected] of [
      ["yes", true],
      ["y", false],
      ["YES please", false],
    ] as const) {
      const c = capture();
      const input = new PassThrough();
      const view = new HumanRunView(new Redactor(), { ...c, input });
      const pending = view.confirm(
        {
          runId: "r1",
          action: "apply",
          steps: [{ id: "maintenance-on", title: "Put Octopus in maintenance mode" }],
          preview: { changes: [{ action: "update", target: "maintenance mode", summary: "off -> on" }], findings: [] },
        },
        new AbortController().signal,
      );
      input.write(`${answer}\n`);
      expect(await pending).toBe(expected);
      expect(c.text.err).toContain("maintenance-on: Put Octopus in maintenance mode");
      expect(c.text.err).toContain("update maintenance mode: off -> on");
      expect(c.text.err).toContain("Only 'yes' will be accepted");
    }
  });
});

describe("the human view's progress lines", () => {
  it("prints a step's progress at most every 5 s, and its last held line before the step's verdict", async () => {
    const c = capture();
    let now = 0;
    const view = new HumanRunView(new Redactor(), c, () => now);
    const progress = (stepId: string, message: string, level: "progress" | "warn" = "progress") =>
      view.notify({ type: "step-progress", stepId, event: { level, message } });
    for (let i = 1; i <= 40; i++) {
      now = i * 250; // a copy's events, 10 s of them
      progress("copy-task-logs", `taskLogs from OCTO1: ${i}/40 files`);
    }
    progress("copy-artifacts", "artifacts from OCTO1: 1/3 files"); // another step has its own pace
    progress("copy-task-logs", "a share is slow", "warn"); // never held back
    view.notify({ type: "step-verified", stepId: "copy-task-logs", verdict: { ok: true, summary: "40 files" } });
    await new Promise((resolve) => setImmediate(resolve));
    const lines = c.text.out.split("\n").filter((l) => l !== "");
    expect(lines).toEqual([
      "    taskLogs from OCTO1: 1/40 files",
      "    taskLogs from OCTO1: 21/40 files", // 5 s after the first
      "    artifacts from OCTO1: 1/3 files",
      "    taskLogs from OCTO1: 40/40 files", // held, then printed before the next other line
      "    copy-task-logs: verified: 40 files",
    ]);
    expect(c.text.err).toContain("a share is slow");
  });

  it("gives each of a step's jobs (a node's copy) its last line, and never prints the same line twice", async () => {
    const c = capture();
    let now = 0;
    const view = new HumanRunView(new Redactor(), c, () => now);
    const progress = copyProgress(view, "copy-task-logs", "taskLogs");
    // Two nodes copied one after the other within a second, then verify's pass over both.
    for (const node of ["OCTO1", "OCTO2"]) {
      now += 10;
      progress(node, "looking, 42 files so far, 42 to copy");
      for (let i = 1; i <= 42; i++) progress(node, `${i}/42 files`);
    }
    for (const node of ["OCTO1", "OCTO2"]) {
      progress(node, "checking, 42 files so far");
      progress(node, "checking, 42 files so far"); // the pass's closing event says the same
    }
    view.notify({ type: "step-verified", stepId: "copy-task-logs", verdict: { ok: true, summary: "every source file is at the target" } });
    await new Promise((resolve) => setImmediate(resolve));
    expect(c.text.out.split("\n").filter((l) => l !== "")).toEqual([
      "    taskLogs from OCTO1: looking, 42 files so far, 42 to copy",
      "    taskLogs from OCTO1: 42/42 files",
      "    taskLogs from OCTO2: looking, 42 files so far, 42 to copy",
      "    taskLogs from OCTO2: 42/42 files",
      "    taskLogs from OCTO1: checking, 42 files so far",
      "    taskLogs from OCTO2: checking, 42 files so far",
      "    copy-task-logs: verified: every source file is at the target",
    ]);
  });

  it("prints a copy's last planning line before its copy lines, not only its first ('1 file so far', then '40/40')", async () => {
    const c = capture();
    let now = 0;
    const view = new HumanRunView(new Redactor(), c, () => now);
    const progress = copyProgress(view, "copy-artifacts", "artifacts");
    for (const node of ["OCTO1", "OCTO2"]) {
      now += 10;
      progress(node, "looking, 1 file so far, 1 to copy", "planning");
      progress(node, "looking, 40 files so far, 40 to copy", "planning");
      for (let i = 1; i <= 40; i++) progress(node, `${i}/40 files`);
    }
    progress("OCTO1", "checking, 1 file so far", "planning");
    progress("OCTO1", "checking, 40 files so far", "planning");
    view.notify({ type: "step-verified", stepId: "copy-artifacts", verdict: { ok: true, summary: "every source file is at the target" } });
    await new Promise((resolve) => setImmediate(resolve));
    expect(c.text.out.split("\n").filter((l) => l !== "")).toEqual([
      "    artifacts from OCTO1: looking, 1 file so far, 1 to copy",
      "    artifacts from OCTO1: looking, 40 files so far, 40 to copy",
      "    artifacts from OCTO1: 40/40 files",
      "    artifacts from OCTO2: looking, 1 file so far, 1 to copy",
      "    artifacts from OCTO2: looking, 40 files so far, 40 to copy",
      "    artifacts from OCTO2: 40/40 files",
      "    artifacts from OCTO1: checking, 1 file so far",
      "    artifacts from OCTO1: checking, 40 files so far",
      "    copy-artifacts: verified: every source file is at the target",
    ]);
  });
});

/** A copy step's progress event for one node's job, as the copy step emits it (phase "planning" while it plans or checks). */
function copyProgress(view: HumanRunView, stepId: string, kind: string) {
  return (node: string, message: string, phase?: "planning") =>
    view.notify({
      type: "step-progress",
      stepId,
      event: { level: "progress", message: `${kind} from ${node}: ${message}`, data: { kind, node, ...(phase ? { phase } : {}) } },
    });
}
