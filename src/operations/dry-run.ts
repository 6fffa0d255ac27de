/**
 * What `octoha dry-run` does, outside the CLI: load the plan, build the workflow, inspect every
 * step, build the report, render. Writes only the --out file the operator asked for (never a
 * journal or lock): the context handed to the steps refuses checkpoints, and inspect() is read-only
 * by contract. An inspect that fails is reported as that step's error; the others still run.
 */
import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { loadPlan } from "../plan/load.js";
import { requireSecrets } from "../plan/secrets.js";
import type { WorkflowName } from "../model/step-ids.js";
import type { StepEvent } from "../model/run.js";
import type { Step, StepContext } from "../runner/step.js";
import { InputError, InternalError, OctohaError } from "../shared/errors.js";
import { ExitCode } from "../shared/exit-codes.js";
import type { Redactor } from "../shared/redact.js";
import { OCTOHA_VERSION } from "../shared/version.js";
import { buildChangeSet, serializeChangeSet, type ChangeSetTolerance } from "../report/change-set.js";
import { buildDryRunReport } from "../report/dry-run.js";
import type { DryRunReport, StepPreviewReport } from "../report/model.js";
import { renderDryRun, type ReportFormat } from "../report/render.js";
import { octopusWorkflows, type WorkflowTable } from "./workflows.js";
import { openFullList, type FullListFile } from "./full-list.js";
import type { FullListRecord } from "../model/copy-results.js";

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
  /** Which workflows exist (default: the Octopus ones). */
  workflows?: WorkflowTable;
  /** Write every collision and missing log here as JSON Lines (the report lists the first ones). */
  fullList?: string;
  /** What the steps say while they are inspected (a copy step's planning: files looked at so far). */
  onEvent?: (stepId: string, event: StepEvent) => void;
}

export interface DryRunOutcome {
  report: DryRunReport;
  /** The rendering (also when written to --out). */
  text: string;
  writtenTo?: string;
}

export async function runDryRun(o: DryRunOptions): Promise<DryRunOutcome> {
  const loaded = await loadPlan(o.planFile);
  const factory = (o.workflows ?? octopusWorkflows)[o.workflow];
  if (!factory)
    throw new InputError(`Unknown workflow ${o.workflow}`, {
      code: "WORKFLOW_UNKNOWN",
      hint: "Use --workflow migrate or --workflow repair.",
    });
  // As for a run: an unset variable is bad input (exit 2), not a report of a run that cannot start.
  requireSecrets(loaded.plan, process.env, o.redactor);
  // The sink exists before the steps (they are built with it); which steps count is known only after.
  let list: FullListFile | undefined;
  const pending: FullListRecord[] = [];
  const workflow = await factory({
    ...(o.fullList ? { fullList: (r: FullListRecord) => (list ? list.sink(r) : pending.push(r)) } : {}),
    plan: loaded.plan,
    planFile: loaded.file,
    stateDir: loaded.stateDir,
    redactor: o.redactor,
    flags: o.flags,
    ...(o.signal ? { signal: o.signal } : {}),
  });
  try {
    if (o.fullList) {
      list = openFullList(
        o.fullList,
        workflow.steps.map((s) => s.id),
        o.redactor,
      );
      for (const r of pending.splice(0)) list.sink(r);
    }
    const report = await collectDryRun({
      workflow: o.workflow,
      planFile: loaded.file,
      steps: workflow.steps,
      redactor: o.redactor,
      signal: o.signal,
      ...(o.onEvent ? { onEvent: o.onEvent } : {}),
    });
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
    list?.close();
    await workflow.close();
  }
}

export async function planSha256(planFile: string): Promise<string> {
  return createHash("sha256")
    .update(await readFile(planFile))
    .digest("hex");
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

export interface CollectOptions {
  workflow: string;
  planFile: string;
  steps: readonly Step[];
  redactor: Redactor;
  now?: () => number;
  signal?: AbortSignal;
  onEvent?: (stepId: string, event: StepEvent) => void;
}

function inspectContext(stepId: string, o: CollectOptions): StepContext {
  return {
    runId: "dry-run",
    stepId,
    signal: o.signal ?? new AbortController().signal,
    async checkpoint() {
      throw new InternalError(`step ${stepId} tried to save a checkpoint during a dry-run`);
    },
    emit: (e) => o.onEvent?.(stepId, e),
    now: o.now ?? Date.now,
  };
}

/** Inspects every step in order and builds the (redacted) report of what a run would do. */
export async function collectDryRun(o: CollectOptions): Promise<DryRunReport> {
  const previews: StepPreviewReport[] = [];
  const facts = new Map<string, Record<string, unknown>>();
  for (const step of o.steps) {
    const requiresApproval = step.requiresApproval ?? false;
    try {
      const p = await step.inspect(inspectContext(step.id, o));
      previews.push({ id: step.id, title: step.title, requiresApproval, changes: p.changes, findings: p.findings });
      facts.set(step.id, p.facts ?? {});
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const fix = "Fix the cause and run the dry-run again; a real run would stop here.";
      const failed = { severity: "error" as const, code: "INSPECT_FAILED", summary: `Could not preview ${step.id}: ${message}`, fix };
      previews.push({ id: step.id, title: step.title, requiresApproval, changes: [], findings: [failed], error: message });
    }
  }
  const { workflow, planFile, redactor } = o;
  return buildDryRunReport({ workflow, planFile, previews, facts, redactor, ...(o.now ? { now: o.now } : {}) });
}
