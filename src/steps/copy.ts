/**
 * Copy steps: one per folder kind (copy-task-logs, copy-artifacts, …), and "preseed", which copies
 * every kind while Octopus is live and changes nothing in Octopus. Every node's local folder goes
 * into the shared folder; the manifest per kind and node is stable across runs, so the window copy
 * after a preseed moves only the delta. Task-log collisions keep the copy from the node that ran
 * the task (per the database); others follow the plan's collision policy. Copy never moves:
 * sources stay. Rollback removes the temp files a stopped copy left; the files the step copied stay
 * (counted, with the command that removes them) unless the rollback is given --remove-copies.
 */
import path from "node:path";
import type { FolderKind } from "../model/folders.js";
import type { Step, StepContext } from "../runner/step.js";
import type { Change, Finding } from "../model/preview.js";
import type { CollisionPolicy, CopySummary, TaskLogOwner, VerifyMode } from "../storage/types.js";
import type { Collision, CopyJobResult, CopyResult, FullListSink, NameProblem } from "../model/copy-results.js";
import { TargetReservations } from "../storage/reservations.js";
import { ExitCode } from "../shared/exit-codes.js";
import { OctohaError } from "../shared/errors.js";
import type { CopyEngine } from "./deps.js";
import { COPY_STEP_IDS } from "../model/step-ids.js";
import { manifestPath, type NodeSource, type PlacedFolder } from "./folders.js";
import { countOf } from "../shared/plural.js";

export interface CopyJob {
  kind: FolderKind;
  source: NodeSource;
  target: PlacedFolder;
}

export interface CopyStepDeps {
  engine: CopyEngine;
  jobs: CopyJob[];
  stateDir: string;
  concurrency: number;
  verify: VerifyMode;
  collisionPolicy: CollisionPolicy;
  /** Built lazily (reads the whole task table): only copies that include task logs need it. */
  taskLogOwner?: () => Promise<TaskLogOwner>;
  /** rollback --remove-copies: rollback removes the files the step copied (those it may: storage/run-copies.ts). */
  removeCopies?: boolean;
  /** The exact command that rolls this run back with --remove-copies (printed when copies stay). */
  removeCopiesCommand?: (runId: string) => string;
  /** Dry-run: every collision a preview finds, beyond what its result lists (`dry-run --full-list`). */
  fullList?: FullListSink;
}

/** Collisions and name problems a preview turns into findings, per job; the rest are summed up in one. */
const FINDINGS_PER_JOB = 20;

/**
 * Losing copies of packages are kept beside the Packages folder, not inside it: Octopus re-indexes
 * the built-in repository at start and must not find a second file for the same package there.
 * Other kinds use the engine's default (<target>/.octoha/conflicts).
 */
function quarantineDirFor(job: CopyJob): string | undefined {
  return job.kind === "packages"
    ? path.join(path.dirname(job.target.access), ".octoha-conflicts", path.basename(job.target.access))
    : undefined;
}

const jobKey = (j: { kind: FolderKind; node: string }) => `${j.kind}:${j.node}`;

function toJobResult(job: CopyJob, s: CopySummary): CopyJobResult {
  return {
    kind: job.kind,
    node: job.source.node,
    filesCopied: s.filesCopied,
    bytesCopied: s.bytesCopied,
    filesSkipped: s.filesSkipped,
    bytesSkipped: s.bytesSkipped,
    filesUpdated: s.filesUpdated ?? 0,
    collisions: s.collisions,
    ...(s.collisionsOmitted ? { collisionsOmitted: s.collisionsOmitted } : {}),
    collisionsByKind: s.collisionsByKind ?? {},
    nameProblems: s.nameProblems,
    ...(s.nameProblemsOmitted ? { nameProblemsOmitted: s.nameProblemsOmitted } : {}),
    errors: s.errors,
  };
}

/**
 * A name Windows cannot hold is copied, not a reason to stop: stopping mid-window (maintenance on,
 * services stopped) over a log's name is worse than a file Octopus cannot open. The run says so
 * here, the first ones by name, and the run report lists them.
 */
function nameProblemWarnings(s: CopySummary): string[] {
  const lines = s.nameProblems
    .slice(0, FINDINGS_PER_JOB)
    .map((p) => `${p.relPath} is on the share, but Octopus on Windows cannot open it: ${p.detail}`);
  const more = s.nameProblems.length + (s.nameProblemsOmitted ?? 0) - lines.length;
  if (more > 0) lines.push(`${countOf(more, "more file")} like these (the run report lists the first ones)`);
  return lines;
}

/**
 * Files the dry pass already knows a run cannot copy (a link or special file, a name like octoha's
 * temp files, a folder it may not list): errors, since apply copies the rest and then stops the run
 * at this step (COPY_INCOMPLETE), in a migration or repair with the nodes stopped. Before, the
 * dry-run left them out and said a run would only change things.
 */
function copyFailureFindings(job: CopyJob, s: CopySummary): Finding[] {
  const node = job.source.node;
  const stops = `A run copies the rest, then stops at this step until it is fixed (in a migration or repair: with Octopus stopped and maintenance mode on). Fix it on ${node} before the run, as said, or move it out of the node's folder.`;
  const findings: Finding[] = s.errors.slice(0, FINDINGS_PER_JOB).map((e) => {
    const [first = "", ...hint] = e.message.split("\n");
    return {
      severity: "error",
      code: e.code,
      node,
      path: e.relPath,
      summary: `${job.kind}/${e.relPath} from ${node} cannot be copied: ${first}`,
      fix: [...hint.map((l) => l.trim()).filter(Boolean), stops].join(" "),
    };
  });
  const more = s.errors.length - findings.length;
  if (more > 0)
    findings.push({
      severity: "error",
      code: "COPY_INCOMPLETE",
      node,
      summary: `${job.kind} from ${node}: ${countOf(more, "more file")} that cannot be copied`,
      fix: `\`octoha copy ${job.source.access} ${job.target.access} --dry-run\` lists them. ${stops}`,
    });
  return findings;
}

/**
 * A preseed copies while Octopus is live: a log written to while it is read (a running deployment),
 * or removed meanwhile (retention), is the normal state of a live node, not a failure. The preseed
 * says so and leaves it to the window's copy, which moves it with the nodes stopped (its copy
 * steps, not live, still fail on these). Before, one busy log failed the whole preseed (exit 1)
 * with "re-run once the node is idle", which a live node never is.
 */
const LIVE_CHANGES: ReadonlySet<string> = new Set(["COPY_SOURCE_CHANGING", "COPY_SOURCE_VANISHED"]);

function liveChangeWarnings(s: CopySummary): string[] {
  const changed = s.errors.filter((e) => LIVE_CHANGES.has(e.code));
  const lines = changed
    .slice(0, FINDINGS_PER_JOB)
    .map(
      (e) =>
        `${e.relPath} ${e.code === "COPY_SOURCE_VANISHED" ? "was removed" : "was being written"} while the preseed copied it (Octopus is live): left for the window's copy, which moves it with the nodes stopped`,
    );
  if (changed.length > lines.length)
    lines.push(`${countOf(changed.length - lines.length, "more file")} like these, left for the window's copy`);
  return lines;
}

/** What a run of a copy step would do, as far as assess-repair needs to know. */
export interface PendingCopyWork {
  /** Why it would write something (the first node and folder found), or undefined when it would write nothing. */
  work?: string;
  /** What the operator should know that no outage changes: a node's folder that is gone, files that cannot be read. */
  notes: string[];
}

/**
 * One set of would-be copies per shared folder, shared by the nodes in the order apply copies them:
 * node 2's dry-run meets node 1's, so collisions between nodes are predicted with their winner.
 */
function reservationsByTarget(): (job: CopyJob) => TargetReservations {
  const byTarget = new Map<string, TargetReservations>();
  return (job) => {
    let r = byTarget.get(job.target.access);
    if (!r) byTarget.set(job.target.access, (r = new TargetReservations()));
    return r;
  };
}

/** A copy step, which can also say whether a run of it would change anything (assess-repair). */
export type CopyStep<Id extends string> = Step<CopyResult, Id> & {
  /**
   * Read-only, as inspect: why a run of this step would write something (the first node whose files
   * are not all at the target, or whose losing copies are not yet in quarantine, or that has a file
   * it cannot read), or undefined when it would write nothing.
   */
  pendingWork(ctx: StepContext): Promise<PendingCopyWork>;
};

/** `live`: Octopus runs during the copy (preseed), so sources keep changing. */
function createCopyLikeStep<Id extends "preseed" | (typeof COPY_STEP_IDS)[FolderKind]>(
  id: Id,
  title: string,
  deps: CopyStepDeps,
  live: boolean,
): CopyStep<Id> {
  // `pass`: inspect and verify copy nothing (a dry-run). Verify's planning says "checking": its "to
  // copy" would count a name the target holds with other bytes (a collision apply quarantined).
  const run = async (
    job: CopyJob,
    pass: "inspect" | "apply" | "verify",
    ctx: StepContext,
    { reservations, fullList }: { reservations?: TargetReservations; fullList?: FullListSink } = {},
  ) => {
    const dryRun = pass !== "apply";
    return deps.engine.copyTree({
      source: job.source.access,
      target: job.target.access,
      sourceNode: job.source.node,
      targetAsOctopusSeesIt: job.target.octopus,
      concurrency: deps.concurrency,
      verify: deps.verify,
      collisionPolicy: deps.collisionPolicy,
      manifestPath: manifestPath(deps.stateDir, job.kind, job.source.node),
      quarantineDir: quarantineDirFor(job),
      dryRun,
      reservations,
      signal: ctx.signal,
      lockOwner: { id: ctx.runId, operation: id },
      runTag: `${ctx.runId}/${id}`,
      // A dry-run has only its planning to show (its closing event's rates mean nothing).
      onProgress: (p) => {
        if (dryRun && p.phase !== "planning") return;
        const done =
          p.phase !== "planning"
            ? `${p.filesDone}/${p.filesTotal} files`
            : pass === "verify"
              ? `checking, ${countOf(p.filesDone, "file")} so far`
              : `looking, ${countOf(p.filesDone, "file")} so far, ${p.filesToCopy ?? 0} to copy`;
        ctx.emit({
          level: "progress",
          message: `${job.kind} from ${job.source.node}: ${done}`,
          data: { kind: job.kind, node: job.source.node, ...p },
        });
      },
      taskLogOwner: job.kind === "taskLogs" && deps.taskLogOwner ? await deps.taskLogOwner() : undefined,
      onCollision: fullList ? (c) => fullList({ list: "collision", step: id, folder: job.kind, node: job.source.node, ...c }) : undefined,
    });
  };

  return {
    id,
    title,
    async pendingWork(ctx) {
      const notes: string[] = [];
      const reservationsOf = reservationsByTarget();
      for (const job of deps.jobs) {
        const from = `${job.kind} from ${job.source.node}`;
        let s: CopySummary;
        try {
          s = await run(job, "inspect", ctx, { reservations: reservationsOf(job) });
        } catch (error) {
          // The node's folder is gone (cleaned up after an earlier repair): there is nothing on it to copy.
          if (!(error instanceof OctohaError && error.code === "COPY_PATH_NOT_FOUND" && error.exitCode === ExitCode.BadInput)) throw error;
          notes.push(`${job.source.octopus} does not exist on ${job.source.node}: nothing of ${job.kind} to copy from it`);
          continue;
        }
        if (s.interrupted || ctx.signal.aborted)
          throw new OctohaError(`Interrupted while looking at ${from}; nothing was changed`, {
            code: "INTERRUPTED",
            step: id,
            node: job.source.node,
            exitCode: ExitCode.Resumable,
            hint: "Run the same command again.",
          });
        if (s.filesCopied > 0)
          return {
            work: `${countOf(s.filesCopied, "file")} of ${from} ${s.filesCopied === 1 ? "is" : "are"} not at ${job.target.octopus}`,
            notes,
          };
        if ((s.quarantinesPending ?? 0) > 0)
          return {
            work: `${countOf(s.quarantinesPending ?? 0, "losing copy", "losing copies")} of ${from} ${s.quarantinesPending === 1 ? "is" : "are"} not in quarantine yet`,
            notes,
          };
        // An outage would not make these readable: a full repair would stop at them, nodes down.
        const first = s.errors[0];
        if (first)
          notes.push(
            `${countOf(s.errors.length, "file")} of ${from} cannot be copied, which no outage changes (${first.relPath}: ${first.message.split("\n")[0]}); \`octoha copy ${job.source.access} ${job.target.access} --dry-run\` lists them`,
          );
      }
      return { notes };
    },
    async inspect(ctx) {
      const changes: Change[] = [];
      const findings: Finding[] = [];
      const jobs: CopyJobResult[] = [];
      const reservationsOf = reservationsByTarget();
      for (const job of deps.jobs) {
        const s = await run(job, "inspect", ctx, { reservations: reservationsOf(job), fullList: deps.fullList });
        jobs.push(toJobResult(job, s));
        const quarantines = s.quarantinesPending ?? 0;
        changes.push({
          // A losing copy still to quarantine is written too (and is why a repair would act).
          action: s.filesCopied > 0 || quarantines > 0 ? "copy" : "noop",
          target: job.target.octopus,
          before: job.source.octopus,
          after: job.target.octopus,
          bytes: s.bytesCopied,
          files: s.filesCopied,
          summary: `copy ${countOf(s.filesCopied, `${job.kind} file`)} (${s.bytesCopied} bytes) from ${job.source.node}; ${s.filesSkipped} already there${quarantines > 0 ? `; ${countOf(quarantines, "losing copy", "losing copies")} to quarantine` : ""}`,
        });
        for (const c of s.collisions.slice(0, FINDINGS_PER_JOB))
          findings.push({
            severity: "warning",
            code: "COLLISION",
            node: job.source.node,
            path: c.relPath,
            summary: `${job.kind}/${c.relPath}: ${c.kind} (${c.reason}); ${c.winner === "source" ? `${job.source.node}'s copy wins` : c.targetNode ? `${c.targetNode}'s copy stays` : "the copy already there stays"}`,
            fix: `The other copy is kept${c.quarantinedAt ? ` at ${c.quarantinedAt}` : " in quarantine"}, never dropped; review it after the run.`,
          });
        const moreCollisions = s.collisions.length + (s.collisionsOmitted ?? 0) - FINDINGS_PER_JOB;
        if (moreCollisions > 0)
          findings.push({
            severity: "warning",
            code: "COLLISION",
            node: job.source.node,
            summary: `${job.kind} from ${job.source.node}: ${moreCollisions} more collision(s) like these`,
            fix: "The report's collision table lists the first ones; `octoha dry-run --full-list FILE` writes every one.",
          });
        // Warnings, not errors: the run copies such a file and lists it (see apply), it does not stop.
        for (const p of s.nameProblems.slice(0, FINDINGS_PER_JOB))
          findings.push({
            severity: "warning",
            code: p.problem === "path-too-long" ? "PATH_TOO_LONG" : "INVALID_WINDOWS_NAME",
            node: job.source.node,
            path: p.relPath,
            summary: `${job.kind}/${p.relPath}: ${p.detail}`,
            fix: `A run copies it and lists it in its report; Octopus on Windows cannot open it on the share. Rename or remove it on ${job.source.node}${p.problem === "path-too-long" ? ", or choose a shorter shared path" : ""}, before the run or after it (and its copy on the share).`,
          });
        const moreNames = s.nameProblems.length + (s.nameProblemsOmitted ?? 0) - FINDINGS_PER_JOB;
        if (moreNames > 0)
          findings.push({
            severity: "warning",
            code: "INVALID_WINDOWS_NAME",
            node: job.source.node,
            summary: `${job.kind} from ${job.source.node}: ${moreNames} more name problem(s) like these`,
            fix: "A run copies them and lists the first ones in its report. `octoha copy SRC DST --dry-run --json` lists the first 1000; rename or remove them on the source node.",
          });
        findings.push(...copyFailureFindings(job, s));
      }
      // A short read sample, when the engine can measure one, turns bytes into an estimated duration.
      const first = deps.jobs[0];
      const rateBytesPerSecond =
        first && deps.engine.measureRate ? await deps.engine.measureRate({ source: first.source.access, signal: ctx.signal }) : undefined;
      return { changes, findings, facts: { jobs, rateBytesPerSecond } };
    },
    async apply(ctx, last) {
      const done = new Map((last?.jobs ?? []).map((j) => [jobKey(j), j]));
      // Before the first byte: a step killed in its first job is still on rollback's list (its temp files, its copies).
      if (!last) await ctx.checkpoint({ jobs: [] });
      for (const job of deps.jobs) {
        if (done.has(jobKey({ kind: job.kind, node: job.source.node }))) continue;
        const s = await run(job, "apply", ctx);
        for (const warning of [...(s.warnings ?? []), ...nameProblemWarnings(s), ...(live ? liveChangeWarnings(s) : [])])
          ctx.emit({ level: "warn", message: `${job.kind} from ${job.source.node}: ${warning}` });
        if (s.interrupted) {
          throw new OctohaError(`Copy of ${job.kind} from ${job.source.node} interrupted; verified files are kept`, {
            code: "INTERRUPTED",
            step: id,
            node: job.source.node,
            exitCode: ExitCode.Resumable,
            hint: "Run `octoha resume`: files already verified at the target are not copied again.",
          });
        }
        done.set(jobKey({ kind: job.kind, node: job.source.node }), toJobResult(job, s));
        await ctx.checkpoint({ jobs: [...done.values()] });
      }
      const jobs = [...done.values()];
      const failed = jobs.flatMap((j) =>
        j.errors.filter((e) => !(live && LIVE_CHANGES.has(e.code))).map((e) => `${j.kind} from ${j.node}: ${e.relPath}: ${e.message}`),
      );
      if (failed.length > 0) {
        throw new OctohaError(`${countOf(failed.length, "file")} could not be copied`, {
          code: "COPY_INCOMPLETE",
          step: id,
          hint: `${failed.slice(0, 20).join("\n")}${failed.length > 20 ? `\n… and ${failed.length - 20} more` : ""}\nFix the cause (permissions, locks) and run \`octoha resume\`; copied files are not copied again.`,
        });
      }
      return { jobs };
    },
    async verify(ctx) {
      const problems: string[] = [];
      for (const job of deps.jobs) {
        const s = await run(job, "verify", ctx);
        if (s.filesCopied > 0)
          problems.push(
            `${countOf(s.filesCopied, `${job.kind} file`)} from ${job.source.node} ${s.filesCopied === 1 ? "is" : "are"} not (or no longer equal) at ${job.target.octopus}`,
          );
      }
      if (live && problems.length > 0) {
        // Octopus keeps writing while a preseed runs: a delta is expected, and the window copy moves it.
        return { ok: true, summary: `pre-seeded; changed since, moved by the window copy: ${problems.join("; ")}` };
      }
      return {
        ok: problems.length === 0,
        summary: problems.length === 0 ? "every source file is at the target" : "target incomplete",
        problems,
      };
    },
    async rollback(ctx) {
      // Copy never moves: the sources are untouched and Octopus still points at them.
      await undoCopies(id, deps, ctx);
    },
  };
}

const LISTED = 20;

interface UndoTotals {
  temps: number;
  removed: number;
  folders: number;
  kept: { path: string; reason: string }[];
  where: string;
}

/** A copy step's rollback: per target, under its lock, stale temp files removed and the copies removed or counted. */
async function undoCopies(id: string, deps: CopyStepDeps, ctx: StepContext): Promise<void> {
  const undo = deps.engine.undoCopies;
  if (!undo) return ctx.emit({ level: "info", message: `${id}: copied files stay in the shared folders` });
  const remove = deps.removeCopies === true;
  const targets = new Map<string, CopyJob[]>();
  for (const job of deps.jobs) targets.set(job.target.access, [...(targets.get(job.target.access) ?? []), job]);
  const totals: UndoTotals = { temps: 0, removed: 0, folders: 0, kept: [], where: [...targets.keys()].join(", ") };
  for (const [target, jobs] of targets) {
    const r = await undo({
      target,
      quarantineDirs: jobs.flatMap((j) => quarantineDirFor(j) ?? []),
      manifests: jobs.map((j) => manifestPath(deps.stateDir, j.kind, j.source.node)),
      sources: jobs.map((j) => j.source.access),
      runId: ctx.runId,
      stepId: id,
      remove,
      signal: ctx.signal,
    });
    totals.temps += r.tempsRemoved.length;
    totals.removed += r.removed.length;
    totals.folders += r.foldersRemoved.length;
    totals.kept.push(...r.kept);
  }
  reportUndo(id, totals, remove ? undefined : (deps.removeCopiesCommand?.(ctx.runId) ?? ""), ctx);
}

/** What a copy step's rollback did, for the operator. `command` is undefined when the copies were removed. */
function reportUndo(id: string, t: UndoTotals, command: string | undefined, ctx: StepContext): void {
  const removing = command === undefined;
  const stayed = removing ? t.kept.length : t.removed + t.kept.length;
  const kept = t.kept.slice(0, LISTED);
  const data = { tempsRemoved: t.temps, copiesRemoved: removing ? t.removed : 0, copiesStayed: stayed, kept, keptCount: t.kept.length };
  if (t.temps > 0)
    ctx.emit({ level: "info", message: `${id}: removed ${countOf(t.temps, "partial file")} a stopped copy left in ${t.where}`, data });
  if (removing) {
    const folders = t.folders ? ` and ${countOf(t.folders, "folder")} left empty` : "";
    ctx.emit({
      level: "info",
      message: `${id}: removed ${countOf(t.removed, "file")} this step copied${folders}; ${t.kept.length} kept`,
      data,
    });
  } else if (stayed > 0) {
    const how = command ? `. To remove them (only those still as copied), run:\n      ${command}` : "";
    const message = `${id}: ${countOf(stayed, "file")} this step copied ${stayed === 1 ? "stays" : "stay"} in ${t.where}${how}`;
    ctx.emit({ level: "info", message, data: { ...data, ...(command ? { command } : {}) } });
  }
  if (removing && t.kept.length > 0) {
    const lines = t.kept.slice(0, LISTED).map((k) => `      ${k.path}: ${k.reason}`);
    if (t.kept.length > LISTED) lines.push(`      … and ${t.kept.length - LISTED} more`);
    ctx.emit({ level: "warn", message: `${id}: kept ${countOf(t.kept.length, "file")} it copied:\n${lines.join("\n")}`, data });
  }
}

export function createCopyStep(kind: FolderKind, deps: CopyStepDeps): CopyStep<(typeof COPY_STEP_IDS)[FolderKind]> {
  return createCopyLikeStep(
    COPY_STEP_IDS[kind],
    `Copy ${kind} from every node into shared storage`,
    { ...deps, jobs: deps.jobs.filter((j) => j.kind === kind) },
    false,
  );
}

/** Copies every kind while Octopus is live; nothing in Octopus changes. */
export function createPreseedStep(deps: CopyStepDeps): CopyStep<"preseed"> {
  return createCopyLikeStep("preseed", "Pre-seed shared storage while Octopus runs", deps, true);
}
