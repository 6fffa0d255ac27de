import { describe, expect, it, afterEach } from "vitest";
import { runSteps } from "../../src/runner/run-steps.js";
import type { Step, StepPolicy } from "../../src/runner/step.js";
import { OctohaError } from "../../src/shared/errors.js";
import { Redactor } from "../../src/shared/redact.js";
import { retry, RETRY_BUDGETS } from "../../src/shared/retry.js";
import { fakeClock, type FakeClock } from "../helpers/fake-clock.js";
import { RecordingView, tempDir } from "./helpers.js";

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

function flakyStep(failures: OctohaError[], policy: StepPolicy, calls: { n: number; lastSeen: unknown[] }): Step<{ ok: true }> {
  return {
    id: "flaky",
    title: "fails a few times",
    policy,
    inspect: () => Promise.resolve({ changes: [], findings: [] }),
    async apply(ctx, last) {
      calls.n++;
      calls.lastSeen.push(last);
      await ctx.checkpoint({ attempt: calls.n });
      const f = failures.shift();
      if (f) throw f;
      return { ok: true };
    },
    verify: () => Promise.resolve({ ok: true, summary: "ok" }),
    rollback: () => Promise.resolve(),
  };
}

async function run(step: Step, view = new RecordingView(), clock: FakeClock = fakeClock()) {
  const t = tempDir();
  cleanups.push(t.cleanup);
  const signal = new AbortController().signal;
  const redactor = new Redactor();
  const fake = { now: clock.now, sleep: clock.sleep };
  const outcome = await runSteps({ stateDir: t.dir, steps: [step], mode: "run", approve: "yes", signal, view, redactor, ...fake });
  return { outcome, view, clock };
}

const transient = () => new OctohaError("share busy", { code: "EBUSY", behaviour: "retryable" });

describe("step policy", () => {
  it("errors marked retryable are retried with doubling backoff, each attempt starting from the last checkpoint", async () => {
    const calls = { n: 0, lastSeen: [] as unknown[] };
    const { outcome, view, clock } = await run(flakyStep([transient(), transient()], { attempts: 3, backoffMs: 5 }, calls));
    expect(outcome.exitCode).toBe(0);
    expect(clock.slept).toEqual([5, 10]);
    expect(calls.n).toBe(3);
    expect(calls.lastSeen).toEqual([undefined, { attempt: 1 }, { attempt: 2 }]);
    expect(view.notices.filter((n) => n.type === "step-retry").map((n) => (n.type === "step-retry" ? n.delayMs : 0))).toEqual([5, 10]);
  });

  it("a retryable error that outlasts the attempts stops the run resumable (exit 3) with the step named and the resume command", async () => {
    const calls = { n: 0, lastSeen: [] as unknown[] };
    const { outcome } = await run(flakyStep([transient(), transient()], { attempts: 2, backoffMs: 1 }, calls));
    expect(calls.n).toBe(2);
    expect(outcome).toMatchObject({ status: "failed", exitCode: 3, failure: { stepId: "flaky", code: "EBUSY", message: "share busy" } });
    expect(outcome.nextCommand).toContain("octoha resume");
  });

  it("the step's retry window bounds the retries inside it: a call's attempts and the step's attempts do not multiply", async () => {
    const clock = fakeClock();
    let requests = 0;
    // Like a REST request in a 502 storm: its own budget (4 attempts), inside a step with the default budget.
    const request = () =>
      retry(
        async () => {
          requests++;
          throw transient();
        },
        {
          ...RETRY_BUDGETS.restRequest,
          backoff: { ...RETRY_BUDGETS.restRequest.backoff, jitter: 0 },
          isRetryable: (e) => e instanceof OctohaError && e.behaviour === "retryable",
          clock,
        },
      );
    const step: Step = { ...flakyStep([], { retryWindowMs: 3_000 }, { n: 0, lastSeen: [] }), apply: request };
    const started = clock.now();
    const { outcome } = await run(step, new RecordingView(), clock);
    expect(outcome).toMatchObject({ status: "failed", exitCode: 3, failure: { code: "EBUSY" } });
    // Without the window: 3 step attempts × 4 requests, 13.5 s of backoff. With it: 500 + 1000 (request), 1000 (step), 500 (request).
    expect(clock.slept).toEqual([500, 1_000, 1_000, 500]);
    expect(requests).toBe(5);
    expect(clock.now() - started).toBeLessThanOrEqual(3_000);
  });

  it("a fatal error is not retried", async () => {
    const calls = { n: 0, lastSeen: [] as unknown[] };
    const { outcome } = await run(flakyStep([new OctohaError("access denied", { code: "EACCES" })], { attempts: 5, backoffMs: 1 }, calls));
    expect(calls.n).toBe(1);
    expect(outcome.failure).toMatchObject({ code: "EACCES" });
  });

  it("a step that overruns its timeout is aborted and fails without a retry", async () => {
    let aborted = false;
    const step: Step = {
      id: "slow",
      title: "never finishes",
      policy: { timeoutMs: 30, attempts: 3, backoffMs: 1 },
      inspect: () => Promise.resolve({ changes: [], findings: [] }),
      apply: (ctx) =>
        new Promise((_, reject) =>
          ctx.signal.addEventListener("abort", () => {
            aborted = true;
            reject(new Error("aborted"));
          }),
        ),
      verify: () => Promise.resolve({ ok: true, summary: "ok" }),
      rollback: () => Promise.resolve(),
    };
    const { outcome } = await run(step);
    expect(aborted).toBe(true);
    expect(outcome).toMatchObject({ status: "failed", exitCode: 1, failure: { code: "STEP_TIMEOUT", stepId: "slow" } });
  });

  it("a step that applies but does not verify fails with the verdict's problems", async () => {
    const step: Step = {
      id: "unverified",
      title: "claims success",
      inspect: () => Promise.resolve({ changes: [], findings: [] }),
      apply: () => Promise.resolve({}),
      verify: () => Promise.resolve({ ok: false, summary: "3 task logs missing", problems: ["ServerTasks-1.log"] }),
      rollback: () => Promise.resolve(),
    };
    const { outcome } = await run(step);
    expect(outcome.failure).toMatchObject({
      code: "VERIFY_FAILED",
      message: "Step unverified applied but did not verify: 3 task logs missing",
    });
    expect(outcome.failure?.hint).toContain("ServerTasks-1.log");
  });
});

describe("bad input found before any step applied", () => {
  it("exits 2 (nothing changed) when the first step fails with a bad-input error, 1 when a later step does", async () => {
    const badInput = () => new OctohaError("the restored database is not this one", { code: "PREFLIGHT_FAILED", exitCode: 2 });
    const first = await run(flakyStep([badInput()], { attempts: 1 }, { n: 0, lastSeen: [] }));
    expect(first.outcome).toMatchObject({ status: "failed", exitCode: 2, failure: { code: "PREFLIGHT_FAILED" } });

    const t = tempDir();
    cleanups.push(t.cleanup);
    const ok = flakyStep([], {}, { n: 0, lastSeen: [] });
    const later = { ...flakyStep([badInput()], { attempts: 1 }, { n: 0, lastSeen: [] }), id: "later" };
    const clock = fakeClock();
    const outcome = await runSteps({
      stateDir: t.dir,
      steps: [ok, later],
      mode: "run",
      approve: "yes",
      signal: new AbortController().signal,
      view: new RecordingView(),
      redactor: new Redactor(),
      now: clock.now,
      sleep: clock.sleep,
    });
    expect(outcome).toMatchObject({ status: "failed", exitCode: 1, failure: { stepId: "later" } });
  });
});
