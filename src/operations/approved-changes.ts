/**
 * `run --changes FILE`: before anything is written (no state directory, no lock, no journal), read
 * the approved change set, run the dry-run's read-only inspection again, and refuse on any drift.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { WorkflowName } from "../model/step-ids.js";
import type { WorkflowTable } from "./workflows.js";
import { InputError } from "../shared/errors.js";
import type { Redactor } from "../shared/redact.js";
import { OCTOHA_VERSION } from "../shared/version.js";
import {
  buildChangeSet,
  driftOf,
  dryRunFor,
  parseChangeSet,
  renderDrift,
  requireApplicable,
  verbFor,
  type Drift,
} from "../report/change-set.js";
import { pinnedFlags, planSha256, runDryRun } from "./dry-run.js";

/** The world moved since the change set was approved: exit 2, with the diff. */
export class ChangeSetDrift extends InputError {
  /** For --json: the drift as { what, approved, now }. */
  readonly details: { changeSet: string; drift: Drift[]; tolerance: { copyGrowthPercent: number } };
  constructor(
    readonly file: string,
    readonly drift: Drift[],
    tolerancePercent: number,
    commands: { dryRun: string; run: string },
  ) {
    const lines = renderDrift(drift);
    super(`The approved change set ${file} is stale: ${drift.length} thing${drift.length === 1 ? "" : "s"} changed since the dry-run`, {
      code: "CHANGE_SET_DRIFT",
      issues: lines,
      hint: [
        ...lines,
        `(files to copy may grow by ${tolerancePercent}% per folder and node; anything else must be as approved)`,
        `Nothing was changed. Run the dry-run again (\`${commands.dryRun}\`), have the new change set approved,`,
        `then run \`${commands.run}\`.`,
      ].join("\n"),
    });
    this.details = { changeSet: file, drift, tolerance: { copyGrowthPercent: tolerancePercent } };
  }
}

export interface CheckChangesOptions {
  file: string;
  planFile: string;
  workflow: WorkflowName;
  flags: Record<string, boolean | string | undefined>;
  redactor: Redactor;
  signal?: AbortSignal;
  /** Which workflows exist (default: the Octopus ones). */
  workflows?: WorkflowTable;
}

export async function checkApprovedChanges(o: CheckChangesOptions): Promise<void> {
  const file = path.resolve(o.file);
  const text = await readFile(file, "utf8").catch((error: NodeJS.ErrnoException) => {
    throw new InputError(`Cannot read change set ${file} (${error.code ?? error.message})`, {
      code: "CHANGE_SET_UNREADABLE",
      path: file,
      hint: `Pass the file \`${dryRunFor(o.workflow, o.planFile, "changes.json")}\` wrote.`,
    });
  });
  const approved = parseChangeSet(text, file, dryRunFor(o.workflow, o.planFile, "changes.json"));
  requireApplicable(approved, file, o.workflow, o.planFile);
  const { report } = await runDryRun({
    planFile: o.planFile,
    workflow: o.workflow,
    format: "json",
    flags: o.flags,
    redactor: o.redactor,
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.workflows ? { workflows: o.workflows } : {}),
  });
  const now = buildChangeSet(
    {
      report,
      plan: { file: o.planFile, sha256: await planSha256(o.planFile) },
      octohaVersion: OCTOHA_VERSION,
      flags: pinnedFlags(o.flags),
      tolerance: approved.tolerance,
    },
    o.redactor,
  );
  const drift = driftOf(approved, now);
  if (drift.length === 0) return;
  const dryRun = dryRunFor(o.workflow, o.planFile, o.file);
  throw new ChangeSetDrift(file, drift, approved.tolerance.copyGrowthPercent, { dryRun, run: verbFor(o.workflow, o.planFile, o.file) });
}
