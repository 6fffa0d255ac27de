/**
 * What the run-family verbs (run, resume, rollback, status, unlock) share: output format options,
 * the approval mode, and mapping errors to exit codes (Ctrl-C: interrupts.ts). No fs, no I/O of its own.
 */
import type { Command } from "commander";
import { concurrencyArg } from "./arg-parsers.js";
import type { ApproveMode } from "../model/run.js";
import { runWorkflow } from "../operations/apply.js";
import type { WorkflowName } from "../model/step-ids.js";
import { checkApprovedChanges } from "../operations/approved-changes.js";
import { redactor } from "../shared/redact.js";
import { withInterrupts } from "./interrupts.js";
import type { VerbContext } from "./verb.js";

/** The run-family verbs print with the same --json / -f options as every other verb. */
export { addOutputOptions, wantsJson, type OutputFlags as OutputOptions } from "./output.js";
import { runVerb, wantsJson, type OutputFlags } from "./output.js";

export function addApprovalOptions(cmd: Command): Command {
  return cmd
    .option("-y, --yes", "approve every approval gate without asking")
    .option("--no-prompt", "same as --yes (the Octopus CLI's spelling)");
}

/** Flags that change what steps do, shared by the verbs that start a workflow (run, repair). */
export interface StepFlagOptions extends OutputFlags {
  yes?: boolean;
  prompt?: boolean;
  cancelTasks?: boolean;
  verifyAll?: boolean;
  /** An approved change set (`dry-run --out changes.json`): refuse to run when the world drifted from it. */
  changes?: string;
  /** --concurrency: parallel file copies of the copy steps (overrides the plan's options.concurrency). */
  concurrency?: number;
  /** repair --full: the whole outage even when there is nothing to repair. */
  full?: boolean;
}

/** Parallel file copies: an integer from 1 to 256 (copy and the run-family verbs). */
export function addStepFlagOptions(cmd: Command): Command {
  return cmd
    .option("--cancel-tasks", "cancel tasks still running when the drain timeout ends (default: stop, resumable)")
    .option("--verify-all", "read every task log through every node, not a sample")
    .option("--changes <file>", "apply this approved change set (`dry-run --out changes.json`); exit 2 with a diff if anything drifted")
    .option("--concurrency <n>", "parallel file copies of the copy steps (default: the plan's options.concurrency)", concurrencyArg);
}

/** Starts a workflow from a verb: step flags, approval mode, Ctrl-C; the run's outcome is the verb's result. */
export function startWorkflow(workflow: WorkflowName, planFile: string, o: StepFlagOptions, context: VerbContext): Promise<void> {
  const json = wantsJson(o);
  return runVerb(workflow === "repair" ? "repair" : "run", json, async () => {
    // A string flag, so `resume` reads it back from the journal with the others.
    const flags = {
      cancelTasks: o.cancelTasks === true,
      verifyAll: o.verifyAll === true,
      ...(o.concurrency === undefined ? {} : { concurrency: String(o.concurrency) }),
      ...(o.full ? { full: true } : {}),
    };
    const outcome = await withInterrupts(async (signal) => {
      // Read-only, and before runWorkflow creates the state directory, the lock or a journal.
      if (o.changes) await checkApprovedChanges({ ...context, file: o.changes, planFile, workflow, flags, redactor, signal });
      return runWorkflow({ ...context, workflow, planFile, flags, approve: approveMode(o, json), json, signal });
    });
    return { exitCode: outcome.exitCode, result: outcome };
  });
}

/** --yes/--no-prompt pass gates; a terminal is asked; otherwise the run stops resumable at a gate. */
export function approveMode(o: { yes?: boolean; prompt?: boolean }, json: boolean): ApproveMode {
  if (o.yes || o.prompt === false) return "yes";
  return process.stdin.isTTY && process.stderr.isTTY && !json ? "prompt" : "no";
}
