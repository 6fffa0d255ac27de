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
  it("the human view names the step that refused rollback, the reason, and the command to retry", () => {
    const c = capture();
    new HumanRunView(new Redactor(), c).notify({ type: "outcome", outcome: refused });
    expect(c.text.err).toContain("Step b refused to roll back: Octopus wrote new task logs there");
    expect(c.text.err).toContain("octoha rollback plan.json --run r1");
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
