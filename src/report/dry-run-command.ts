/**
 * What `octoha dry-run` does, outside the CLI: load the plan, build the workflow, inspect every
 * step, render. Writes only the --out file the operator asked for (never a journal or lock).
 */
import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { loadPlan } from "../plan/load.js";
import { requireSecrets } from "../plan/secrets.js";
import { workflowFactory, type WorkflowName } from "../runner/workflows.js";
import { InputError, OctohaError } from "../shared/errors.js";
import { ExitCode } from "../shared/exit-codes.js";
import type { Redactor } from "../shared/redact.js";
import { OCTOHA_VERSION } from "../shared/version.js";
import { buildChangeSet, serializeChangeSet, type ChangeSetTolerance } from "./change-set.js";
import { collectDryRun } from "./dry-run.js";
import type { DryRunReport } from "./model.js";
import { renderDryRun, type ReportFormat } from "./render.js";

export interface DryRunOptions {
  planFile: string;
  workflow: WorkflowName;
  format: ReportFormat;
  /** Write the rendering here instead of returning it for stdout. */
  out?: string;
  /** Write --out as a change set (versioned JSON a run can apply with --changes) with this tolerance. */
  changeSet?: ChangeSetTolerance;
  flags: Record<string, boolean | string | undefined>;
  redactor: Redactor;
  signal?: AbortSignal;
}

export interface DryRunOutcome {
  report: DryRunReport;
  /** The rendering (also when written to --out). */
  text: string;
  writtenTo?: string;
}

export async function runDryRun(o: DryRunOptions): Promise<DryRunOutcome> {
  const loaded = await loadPlan(o.planFile);
  const factory = workflowFactory(o.workflow);
  if (!factory) throw new InputError(`Unknown workflow ${o.workflow}`, { code: "WORKFLOW_UNKNOWN", hint: "Use --workflow migrate or --workflow repair." });
  // As for a run: an unset variable is bad input (exit 2), not a report of a run that cannot start.
  requireSecrets(loaded.plan, process.env, o.redactor);
  const workflow = await factory({ plan: loaded.plan, planFile: loaded.file, stateDir: loaded.stateDir, redactor: o.redactor, flags: o.flags, ...(o.signal ? { signal: o.signal } : {}) });
  try {
    const report = await collectDryRun({ workflow: o.workflow, planFile: loaded.file, steps: workflow.steps, redactor: o.redactor, signal: o.signal });
    // Ctrl-C aborted the requests in flight: a report of "interrupted" findings would only mislead.
    if (o.signal?.aborted) {
      const hint = "Nothing was changed anywhere. Run the dry-run again.";
      throw new OctohaError("Dry-run interrupted; no report was written", { code: "INTERRUPTED", exitCode: ExitCode.Resumable, hint });
    }
    const text = renderDryRun(report, o.format, o.redactor);
    if (!o.out) return { report, text };
    const target = path.resolve(o.out);
    const written = o.changeSet ? await changeSetText(report, loaded.file, o.flags, o.changeSet, o.redactor) : text;
    await writeFile(target, written);
    return { report, text, writtenTo: target };
  } finally {
    await workflow.close();
  }
}

export async function planSha256(planFile: string): Promise<string> {
  return createHash("sha256").update(await readFile(planFile)).digest("hex");
}

/** The step flags a change set pins (--cancel-tasks, --verify-all). */
export function pinnedFlags(flags: Record<string, boolean | string | undefined>): Record<string, boolean> {
  return Object.fromEntries(Object.entries(flags).filter((e): e is [string, boolean] => typeof e[1] === "boolean"));
}

async function changeSetText(
  report: DryRunReport,
  planFile: string,
  flags: DryRunOptions["flags"],
  tolerance: ChangeSetTolerance,
  redactor: Redactor,
): Promise<string> {
  const plan = { file: planFile, sha256: await planSha256(planFile) };
  const changeSet = buildChangeSet({ report, plan, octohaVersion: OCTOHA_VERSION, flags: pinnedFlags(flags), tolerance }, redactor);
  return serializeChangeSet(changeSet);
}
