/**
 * Views of a run: the same RunNotices rendered for people (Human) or machines (Json, one JSON
 * object a line). Only views print; everything printed passes through the redactor.
 */
import { createInterface } from "node:readline/promises";
import type { ApprovalRequest, RunNotice, RunObserver, RunOutcome } from "../model/run.js";
import { StepProgressLines } from "./step-progress.js";
import { forTerminal } from "./format.js";
import type { Redactor } from "../shared/redact.js";
import { ExitCode } from "../shared/exit-codes.js";

export interface ViewStreams {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
  input: NodeJS.ReadableStream;
}

const defaultStreams = (): ViewStreams => ({ out: process.stdout, err: process.stderr, input: process.stdin });

/** What the rollback undid: this invocation's undos, then those of an earlier one (stopped part-way, or `--to`). */
function undidText(o: RunOutcome): string {
  const earlier = o.undoneEarlier ?? [];
  const now = o.undone.length
    ? `undid ${o.undone.join(", ")}`
    : earlier.length
      ? "nothing was left to undo"
      : "undid nothing (nothing was applied)";
  return earlier.length ? `${now}; an earlier rollback undid ${earlier.join(", ")}` : now;
}

function outcomeLines(o: RunOutcome): string[] {
  const lines: string[] = [];
  const earlier = o.undoneEarlier ?? [];
  const head: Record<RunOutcome["status"], string> = {
    done: `Run ${o.runId} is done: ${o.applied.length} step(s) applied and verified.`,
    failed: `Run ${o.runId} failed${o.failure?.stepId ? ` at step ${o.failure.stepId}` : ""}: ${o.failure?.message ?? "unknown error"}`,
    interrupted: `Run ${o.runId} stopped on request; everything done so far is journaled.`,
    "awaiting-approval":
      o.state === "unchanged"
        ? `Rollback of run ${o.runId} was not confirmed; nothing was undone.`
        : `Run ${o.runId} is waiting for approval; nothing more was changed.`,
    "rolled-back": `Run ${o.runId} rolled back: ${undidText(o)}.`,
    "rollback-incomplete": `Run ${o.runId} could NOT be fully rolled back.`,
  };
  lines.push(head[o.status]);
  if (o.status === "done" && o.advice) lines.push(o.advice);
  if (o.failure?.hint && o.status === "failed") lines.push(`  ${o.failure.hint.split("\n").join("\n  ")}`);
  if (o.undone.length && o.status === "rollback-incomplete") lines.push(`  Undone: ${o.undone.join(", ")}`);
  if (earlier.length && o.status === "rollback-incomplete") lines.push(`  Undone earlier: ${earlier.join(", ")}`);
  // A refusal and a failed check come before any undo of that step; a failed undo may have put back part of its step.
  const partial = (p: RunOutcome["undoProblems"][number]) => p.kind === "failed" && o.failure?.code !== "ROLLBACK_CHECK_FAILED";
  for (const p of o.undoProblems)
    lines.push(
      `  Step ${p.stepId} ${p.kind === "refused" ? "refused to roll back" : "failed to roll back"}: ${p.reason}`,
      partial(p)
        ? `  The steps before it are still applied; ${p.stepId} may have put back part of its own change before it stopped${o.leftInPlace ? " (what is in place now is said below)" : " (its message below names what it could not)"}.`
        : o.undone.length || earlier.length
          ? "  Its changes, and those of the steps before it, are still in place."
          : "  Nothing was undone: the cluster is as the run left it.",
    );
  if (o.status === "rollback-incomplete" && o.undoProblems[0]?.kind === "failed" && o.failure?.hint)
    lines.push(`  ${o.failure.hint.split("\n").join("\n  ")}`);
  lines.push(...nextCommandLines(o));
  lines.push(`Journal: ${o.journal}`);
  return lines;
}

/** What to type next, said as what it does: after a refused rollback the same rollback would refuse again. */
function nextCommandLines(o: RunOutcome): string[] {
  // A run refused as bad input (exit 2) changed nothing: no command continues it, only its advice.
  if (!o.nextCommand) return o.status === "failed" && o.advice ? [o.advice] : [];
  if (o.status === "rolled-back" && o.stillApplied?.length)
    return [
      `Still applied: ${o.stillApplied.join(", ")} (a rollback --to undoes only the later steps).`,
      `To apply the undone steps again and finish the run, run:\n  ${o.nextCommand}`,
      ...(o.rollbackCommand
        ? [`Or undo the rest of the run (a step may refuse and name what to do by hand):\n  ${o.rollbackCommand}`]
        : []),
    ];
  const problem = o.status === "rollback-incomplete" ? o.undoProblems[0] : undefined;
  if (problem?.kind === "failed")
    return [
      ...(o.leftInPlace ? [`As the rollback left it: ${o.leftInPlace}.`] : []),
      `Once the cause is fixed, roll back again:\n  ${o.nextCommand}`,
    ];
  // A failed run: what it left in place, and both ways out when undoing it is one.
  const left =
    o.status === "failed" ? [...(o.leftInPlace ? [`As the run left it: ${o.leftInPlace}.`] : []), ...(o.advice ? [o.advice] : [])] : [];
  if (o.status === "failed" && o.rollbackCommand)
    return [
      ...left,
      `Once the cause is fixed, finish the run:\n  ${o.nextCommand}`,
      `Or undo the run, putting back everything it changed:\n  ${o.rollbackCommand}`,
    ];
  // Stopped on request or at a gate: what the run left in place comes before the way on.
  if ((o.status === "interrupted" || o.status === "awaiting-approval") && o.leftInPlace) left.push(`As the run left it: ${o.leftInPlace}.`);
  if (problem?.kind !== "refused") return [...left, `To continue, run:\n  ${o.nextCommand}`];
  const reapplied = [...(o.undoneEarlier ?? []), ...o.undone];
  const lines = [
    `The same rollback would refuse again. To keep the run's changes and finish the run${reapplied.length ? ` (re-applying ${reapplied.join(", ")})` : ""}, run:\n  ${o.nextCommand}`,
  ];
  if (o.partialRollbackCommand)
    lines.push(
      `Or, to undo only the steps after ${problem.stepId} (${problem.stepId} and the steps before it stay applied), run:\n  ${o.partialRollbackCommand}`,
    );
  return lines;
}

function describeRequest(r: ApprovalRequest): string {
  const lines = [r.action === "apply" ? `Run ${r.runId} will now apply:` : `Run ${r.runId} will now undo, newest first:`];
  for (const s of r.steps) lines.push(`  - ${s.id}: ${s.title}`);
  for (const c of r.preview?.changes ?? []) lines.push(`      ${c.action} ${c.target}: ${c.summary}`);
  for (const f of r.preview?.findings ?? []) lines.push(`      ${f.severity}: ${f.summary}`);
  lines.push("Only 'yes' will be accepted to approve.");
  return lines.join("\n");
}

/** Progress lines for people. */
export class HumanRunView implements RunObserver {
  private readonly s: ViewStreams;
  private readonly progress: StepProgressLines;
  constructor(
    private readonly redactor: Redactor,
    streams: Partial<ViewStreams> = {},
    clock: () => number = Date.now,
  ) {
    this.s = { ...defaultStreams(), ...streams };
    // A step's progress thinned per node (a copy step reports every 250 ms), each node's last line kept.
    this.progress = new StepProgressLines((_stepId, message) => this.line(`    ${message}`), clock);
  }

  private line(text: string, stream: "out" | "err" = "out"): void {
    this.s[stream].write(`${forTerminal(this.redactor.redact(text))}\n`);
  }

  notify(n: RunNotice): void {
    if (n.type === "step-progress" && n.event.level === "progress") return this.progress.progress(n.stepId, n.event);
    this.progress.flush();
    switch (n.type) {
      case "run-started":
        return this.line(
          `${n.mode === "run" ? "Starting" : n.mode === "resume" ? "Resuming" : "Rolling back"} run ${n.runId} (${n.steps.length} steps, state in ${n.stateDir})${n.restoredState ? `, journal says: ${n.restoredState}` : ""}`,
        );
      case "warning":
        return this.line(`warning: ${n.message}`, "err");
      case "step-started":
        return this.line(`[${n.index + 1}/${n.total}] ${n.title}${n.attempt > 1 ? ` (attempt ${n.attempt})` : ""}`);
      case "step-progress":
        return n.event.level === "warn" ? this.line(`    warning: ${n.event.message}`, "err") : this.line(`    ${n.event.message}`);
      case "step-retry":
        return this.line(`    ${n.stepId}: ${n.error.message}; retrying in ${n.delayMs} ms`, "err");
      case "step-applied":
        return n.alreadyApplied ? this.line(`    ${n.stepId}: already applied by this run, not applied again`) : undefined;
      case "step-verified":
        return this.line(`    ${n.stepId}: ${n.verdict.ok ? "verified" : "NOT verified"}: ${n.verdict.summary}`);
      case "step-failed":
        return this.line(`    ${n.stepId} failed: ${n.error.message}`, "err");
      case "approval":
        // Approved by "none": a step that will change nothing asks for no approval (its verdict says why).
        return n.decision === "approved" && n.by !== "none"
          ? this.line(`    ${n.stepId}: approved${n.by === "flag" ? " by --yes" : ""}`)
          : undefined;
      case "undo-started":
        return this.line(`Undoing ${n.stepId}: ${n.title}`);
      case "undone":
        return this.line(`    ${n.stepId}: undone`);
      case "undo-refused":
        // The reason, with what to do, is said once: in the outcome's lines that always follow a refusal.
        return this.line(`    ${n.stepId}: refused to roll back (why, and what to do, below)`, "err");
      case "undo-failed":
        // As for a refusal: what failed, and what to do, is said once in the outcome's lines that always follow.
        return this.line(`    ${n.stepId}: rollback failed (why, and what to do, below)`, "err");
      case "outcome":
        return this.line(outcomeLines(n.outcome).join("\n"), n.outcome.exitCode === ExitCode.Done ? "out" : "err");
    }
  }

  async confirm(request: ApprovalRequest, signal: AbortSignal): Promise<boolean> {
    this.line(describeRequest(request), "err");
    const rl = createInterface({ input: this.s.input, output: this.s.err });
    try {
      const answer = await rl.question("Enter a value: ", { signal });
      return answer.trim() === "yes";
    } catch {
      return false; // aborted (Ctrl-C) or input closed
    } finally {
      rl.close();
    }
  }
}

/**
 * One JSON object a line on stdout, for machines; never prompts. The outcome is not one of them: it
 * is the verb's result, which the command line prints last, in the result envelope.
 */
export class JsonRunView implements RunObserver {
  private readonly s: ViewStreams;
  constructor(
    private readonly redactor: Redactor,
    streams: Partial<ViewStreams> = {},
  ) {
    this.s = { ...defaultStreams(), ...streams };
  }

  notify(n: RunNotice): void {
    if (n.type === "outcome") return;
    this.s.out.write(`${JSON.stringify(this.redactor.redactValue(n))}\n`);
  }

  confirm(): Promise<boolean> {
    return Promise.resolve(false);
  }
}

export function createRunView(options: { json: boolean; redactor: Redactor; streams?: Partial<ViewStreams> }): RunObserver {
  return options.json ? new JsonRunView(options.redactor, options.streams) : new HumanRunView(options.redactor, options.streams);
}
