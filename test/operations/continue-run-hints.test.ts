/**
 * The hints of a resume that finds nothing to continue show the plan file the operator gave, quoted for
 * the shell, never a literal PLAN.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { continueRun } from "../../src/operations/apply.js";
import { journalFile } from "../../src/runner/journal.js";
import { runSteps } from "../../src/runner/run-steps.js";
import { Redactor } from "../../src/shared/redact.js";
import { RecordingView, tempDir } from "../runner/helpers.js";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

const failure = (p: Promise<unknown>) =>
  p.then(
    () => ({ code: "none", hint: "" }),
    (e: unknown) => e as { code: string; hint: string },
  );

describe("a resume with nothing to continue", () => {
  it("of a run that recorded nothing says to start it again with the plan file given, quoted for the shell", async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const runId = "20261207-020000-abcd";
    mkdirSync(path.dirname(journalFile(t.dir, runId)), { recursive: true });
    writeFileSync(journalFile(t.dir, runId), "");
    const planFile = path.join(t.dir, "my plans", "prod plan.json");
    const resume = (plan?: string) =>
      failure(
        continueRun({
          mode: "resume",
          stateDir: t.dir,
          runId,
          approve: "yes",
          json: false,
          signal: new AbortController().signal,
          ...(plan ? { planFile: plan } : {}),
        }),
      );
    const withPlan = await resume(planFile);
    expect(withPlan.code).toBe("RUN_EMPTY");
    const quoted = JSON.stringify(planFile);
    expect(withPlan.hint).toContain(`Start the run again with the same command (\`octoha run ${quoted}\` or \`octoha repair ${quoted}\`)`);
    expect(withPlan.hint).not.toContain("PLAN");
    // Given only --state-dir, octoha does not know the plan file: it names none, and no placeholder either.
    const withoutPlan = await resume();
    expect(withoutPlan.code).toBe("RUN_EMPTY");
    expect(withoutPlan.hint).toContain("(`octoha run` or `octoha repair` with its plan file)");
    expect(withoutPlan.hint).not.toContain("PLAN");
  });

  it("in a state directory without runs, the runner says to start one with the plan file given, quoted for the shell", async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const planFile = path.join(t.dir, "my plans", "prod plan.json");
    const refused = await failure(
      runSteps({
        mode: "resume",
        approve: "yes",
        signal: new AbortController().signal,
        redactor: new Redactor(),
        stateDir: t.dir,
        steps: [],
        view: new RecordingView(),
        invocation: { planFile },
      }),
    );
    expect(refused.code).toBe("RUN_NOT_FOUND");
    expect(refused.hint).toContain(`Start one with \`octoha run ${JSON.stringify(planFile)}\``);
    expect(refused.hint).not.toContain("PLAN");
  });
});
