/**
 * Applying a workflow (run, repair, resume, rollback): load the plan, build a registered workflow's
 * steps, run them through the runner with the right view, write the run's report, release the workflow. `run` and `repair` call runWorkflow;
 * `resume` and `rollback` call continueRun, which reads the workflow, plan and flags the run was
 * started with from its journal.
 */
import { requireSecrets } from "../plan/secrets.js";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { buildRunReport, renderRunReportMarkdown } from "../report/run-report.js";
import { dataPlanChanges, whereDataGoes } from "../plan/where-data-goes.js";
import { loadPlan } from "../plan/load.js";
import { createRunView, type ViewStreams } from "../report/run-view.js";
import { InputError, OctohaError } from "../shared/errors.js";
import { redactor } from "../shared/redact.js";
import type { ApproveMode, RunMode, RunObserver, RunOutcome } from "../model/run.js";
import { indexSteps, readJournal, type JournalRecord, type RunInvocation } from "../runner/journal.js";
import { runSteps, type RunHooks } from "../runner/run-steps.js";
import { copyStateNote, DEFAULT_STATE_DIR, listRuns } from "../runner/runs.js";
import { WORKFLOW_NAMES, type WorkflowName } from "../model/step-ids.js";
import type { AfterRollback } from "../steps/workflows.js";
import { octopusWorkflows, type WorkflowTable } from "./workflows.js";
import { ExitCode } from "../shared/exit-codes.js";
import { shellWord } from "../shared/shell-word.js";

export interface RunWorkflowOptions {
  workflow: WorkflowName;
  planFile: string;
  flags: Record<string, boolean | string | undefined>;
  approve: ApproveMode;
  json: boolean;
  signal: AbortSignal;
  mode?: RunMode;
  runId?: string;
  rollbackTo?: string;
  /** Overrides the plan's state directory (resume from another node with --state-dir). */
  stateDir?: string;
  streams?: Partial<ViewStreams>;
  /** Which workflows exist (default: the Octopus ones). */
  workflows?: WorkflowTable;
  /** Test seam: see RunStepsOptions.hooks. */
  hooks?: RunHooks;
}

export async function runWorkflow(o: RunWorkflowOptions): Promise<RunOutcome> {
  const loaded = await loadPlan(o.planFile);
  const factory = (o.workflows ?? octopusWorkflows)[o.workflow];
  if (!factory) {
    throw new OctohaError(`This build of octoha has no "${o.workflow}" workflow registered`, {
      code: "WORKFLOW_NOT_REGISTERED",
      exitCode: ExitCode.Failed,
      hint: "The runner is in place but the steps of this workflow are not part of this build yet; nothing was changed.",
    });
  }
  // Registered before anything can print or journal them; an unset one is bad input (exit 2),
  // refused before the state directory, the lock or a journal exists.
  requireSecrets(loaded.plan, process.env, redactor);
  const stateDir = o.stateDir ? path.resolve(o.stateDir) : loaded.stateDir;
  const dataPlan = whereDataGoes(loaded.plan);
  // A resume or rollback: its journal, read once for both.
  const journaled = o.runId ? (await readJournal(stateDir, o.runId)).records : undefined;
  if (o.runId && journaled) refuseChangedDataPlan(journaled, o.runId, loaded.file, dataPlan);
  const priorResult = journaled ? journaledResults(journaled) : undefined;
  const header = journaled?.find((r) => r.t === "run");
  const workflow = await factory({
    ...(header?.t === "run" ? { journaledStepIds: header.stepIds } : {}),
    plan: loaded.plan,
    planFile: loaded.file,
    stateDir,
    redactor,
    flags: o.flags,
    signal: o.signal,
    mode: o.mode ?? "run",
    ...(priorResult ? { priorResult } : {}),
  });
  const view = createRunView({ json: o.json, redactor, ...(o.streams ? { streams: o.streams } : {}) });
  const afterFailure = workflow.afterFailure?.bind(workflow);
  const afterDone = workflow.afterDone?.bind(workflow);
  try {
    const outcome = await runSteps({
      ...(o.runId ? { runId: o.runId } : {}),
      ...(o.rollbackTo ? { rollbackTo: o.rollbackTo } : {}),
      stateDir,
      steps: workflow.steps,
      mode: o.mode ?? "run",
      // approvals: "auto" in the plan is the operator saying yes in advance.
      approve: loaded.plan.options.approvals === "auto" ? "yes" : o.approve,
      signal: o.signal,
      view,
      redactor,
      invocation: { workflow: o.workflow, planFile: loaded.file, flags: o.flags, dataPlan },
      ...(o.hooks ? { hooks: o.hooks } : {}),
      ...(afterFailure ? { afterFailure } : {}),
      ...(afterDone ? { afterDone } : {}),
    });
    if (o.mode === "rollback" && outcome.status === "rolled-back" && workflow.afterRollback) {
      await workflow.afterRollback(await afterRollbackOf(outcome, view, o.signal));
    }
    return { ...outcome, report: await writeRunReport(o.workflow, outcome) };
  } finally {
    await workflow.close();
  }
}

/** What a workflow's afterRollback may see of the run: steps undone by earlier rollbacks and what they recorded. */
async function afterRollbackOf(outcome: RunOutcome, view: RunObserver, signal: AbortSignal): Promise<AfterRollback> {
  const { records } = await readJournal(outcome.stateDir, outcome.runId);
  const current = indexSteps(records);
  const recorded = new Map<string, unknown>();
  for (const r of records) if (r.t === "applied" || r.t === "checkpoint") recorded.set(r.stepId, r.t === "applied" ? r.result : r.data);
  return {
    runId: outcome.runId,
    undoneEarlier: [...recorded.keys()].filter((id) => !current.has(id) && !outcome.undone.includes(id)),
    recorded: (stepId) => recorded.get(stepId),
    context: (stepId) => ({
      runId: outcome.runId,
      stepId,
      signal,
      checkpoint: () => Promise.resolve(), // nothing to resume: the run is rolled back
      emit: (event) => view.notify({ type: "step-progress", stepId, event }),
      now: () => Date.now(),
    }),
  };
}

/** The human report of a run (what was copied, collisions, logs found nowhere), beside its journal. */
async function writeRunReport(workflow: WorkflowName, outcome: RunOutcome): Promise<string> {
  const steps = indexSteps((await readJournal(outcome.stateDir, outcome.runId)).records);
  const results = new Map([...steps].flatMap(([id, r]) => (r.applied ? [[id, r.result] as const] : [])));
  const errors = outcome.failure ? [`${outcome.failure.stepId ?? "run"}: ${outcome.failure.message}`] : [];
  const report = buildRunReport({ workflow, runId: outcome.runId, results, errors });
  const file = path.join(path.dirname(outcome.journal), "report.md");
  await writeFile(file, renderRunReportMarkdown(report, redactor));
  await writeFile(path.join(path.dirname(outcome.journal), "report.json"), `${JSON.stringify(redactor.redactValue(report), null, 2)}\n`);
  return file;
}

/**
 * A resume or rollback with a plan whose shared folders, nodes or node folders differ from the ones
 * the run started with is refused before anything is done: the run already copied into (or
 * provisioned) the folders it recorded, and would go on into others.
 */
function refuseChangedDataPlan(records: JournalRecord[], runId: string, planFile: string, now: Record<string, string>): void {
  const header = records.find((r) => r.t === "run");
  const recorded = header?.t === "run" ? header.invocation?.dataPlan : undefined;
  if (!recorded) return; // started by an earlier release, which did not record them
  const changes = dataPlanChanges(recorded, now);
  if (changes.length === 0) return;
  const shown = changes.slice(0, 8).map((c) => `  ${c}`);
  if (changes.length > 8) shown.push(`  and ${changes.length - 8} more`);
  throw new InputError(
    `Plan ${planFile} no longer says where run ${runId} reads and writes its data; nothing was done:\n${shown.join("\n")}`,
    {
      code: "PLAN_CHANGED_SINCE_RUN",
      path: planFile,
      hint: "Put these values back as they were when the run started, then run the command again. To move to other folders, finish or roll back this run first (rollback needs the plan as it was too), then start a new run with the new plan.",
    },
  );
}

/** "resume", "roll back": the mode as a verb in a sentence. */
const verbOf = (mode: "resume" | "rollback"): string => (mode === "rollback" ? "roll back" : mode);

/**
 * What earlier steps of a resumed run recorded (their result, else their last checkpoint): a step
 * that finished before a crash is not re-applied, yet a later one may need its before-state.
 */
function journaledResults(records: JournalRecord[]): (stepId: string) => unknown {
  const steps = indexSteps(records);
  return (stepId) => {
    const record = steps.get(stepId);
    return record?.applied ? record.result : record?.lastCheckpoint;
  };
}

export interface ContinueRunOptions {
  mode: "resume" | "rollback";
  planFile?: string;
  /** Used without a plan; default ./.octoha. */
  stateDir?: string;
  runId?: string;
  rollbackTo?: string;
  /** Flags added to (or overriding) those the run was started with, e.g. resume --cancel-tasks. */
  flags?: Record<string, boolean>;
  approve: ApproveMode;
  json: boolean;
  signal: AbortSignal;
  streams?: Partial<ViewStreams>;
  workflows?: WorkflowTable;
  /** Test seam: see RunStepsOptions.hooks. */
  hooks?: RunHooks;
}

/** Finds a run (newest unless --run) and continues or undoes it with the workflow it started with. */
export async function continueRun(o: ContinueRunOptions): Promise<RunOutcome> {
  const stateDir = o.stateDir
    ? path.resolve(o.stateDir)
    : o.planFile
      ? (await loadPlan(o.planFile)).stateDir
      : path.resolve(DEFAULT_STATE_DIR);
  const runId = o.runId ?? (await listRuns(stateDir))[0];
  if (!runId)
    throw new InputError(`No run to ${verbOf(o.mode)} in ${stateDir}`, {
      code: "RUN_NOT_FOUND",
      path: stateDir,
      hint: `Give the plan (its state directory is used) or --state-dir where the run's journal lives.${await copyStateNote(stateDir)}`,
    });
  const { records } = await readJournal(stateDir, runId);
  if (records.length === 0) {
    throw new InputError(
      `Run ${runId} recorded nothing: it was stopped before its first journal record, so it changed nothing and there is nothing to ${verbOf(o.mode)}`,
      {
        code: "RUN_EMPTY",
        path: stateDir,
        hint: o.planFile
          ? `Start the run again with the same command (\`octoha run ${shellWord(o.planFile)}\` or \`octoha repair ${shellWord(o.planFile)}\`): it takes over the stopped run's lock once that process is gone.`
          : "Start the run again with the command that started it (`octoha run` or `octoha repair` with its plan file): it takes over the stopped run's lock once that process is gone.",
      },
    );
  }
  const header = records.find((r) => r.t === "run");
  const invocation: RunInvocation = header?.t === "run" ? (header.invocation ?? {}) : {};
  const workflow = WORKFLOW_NAMES.find((w) => w === invocation.workflow);
  const planFile = o.planFile ?? invocation.planFile;
  if (!workflow || !planFile) {
    throw new InputError(`Run ${runId} does not record which workflow and plan started it`, {
      code: "RUN_INVOCATION_UNKNOWN",
      hint: "It was not started by `octoha run`; continue it with the tool that started it.",
    });
  }
  const extras = {
    ...(o.rollbackTo ? { rollbackTo: o.rollbackTo } : {}),
    ...(o.streams ? { streams: o.streams } : {}),
    ...(o.workflows ? { workflows: o.workflows } : {}),
    ...(o.hooks ? { hooks: o.hooks } : {}),
  };
  const flags = { ...(invocation.flags ?? {}), ...(o.flags ?? {}) };
  const { approve, json, signal, mode } = o;
  return runWorkflow({ workflow, planFile, flags, approve, json, signal, mode, runId, stateDir, ...extras });
}
