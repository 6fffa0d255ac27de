/**
 * copyTree: one node's folder into the shared target, without losing or overwriting a byte.
 *
 *   1. plan    stream the source against the target: totals of real work, Windows-name report
 *   2. check   free space for the work plus a margin; probe file (dry-run: access check only)
 *   3. copy    stream again, file tactics in parallel (copy-verify-rename, skip-if-same,
 *              quarantine), manifest group-committed, progress events
 *
 * Dry-run runs the same code with every write behind one guard (Settings.dryRun), in one pass:
 * the copy pass tallies the plan as it goes, and the check comes after it.
 */
import { createHash } from "node:crypto";
import path from "node:path";
import { InputError, OctohaError } from "../shared/errors.js";
import { LABEL_RULE, labelProblem } from "../shared/names.js";
import { RETRY_BUDGETS } from "../shared/retry.js";
import { ListingInterrupted, nodeFileOps, type FileOps } from "./file-ops.js";
import { classifyFsError } from "./copy-errors.js";
import { ManifestIndex, ManifestWriter } from "./manifest.js";
import { loadManifest, refreshManifestSnapshot } from "./manifest-load.js";
import { jobStream, type FileJob, type Problem } from "./jobs.js";
import { preflightTarget } from "./preflight.js";
import { ProgressMeter, RoundTrips, timeRoundTrips } from "./progress-meter.js";
import { runPool } from "./pool.js";
import { capYoungGeneration, collectGarbage } from "./heap.js";
import { releaseSpareBuffers } from "./copy-file.js";
import { countOf } from "../shared/plural.js";
import { FileTactics, type Settings } from "./tactics.js";
import { STATE_FOLDER } from "./walk.js";
import { lockTarget, releaseDeadLock, targetLockFile, targetLockLostError, type LockOwner } from "./target-lock.js";
import { removeStaleTemps } from "./temp-names.js";
import { readLockFile, type HeldLock, type LockInfo } from "../shared/lock.js";
import { nameProblems } from "./windows-names.js";
import { sourceFacts } from "./source-identity.js";
import { recordSource, sourceIdUnder } from "./manifest-sources.js";
import { refuseOverlap } from "./overlap.js";
import { refuseLinkedStateFiles, refuseLinkedStateFolder } from "./own-folders.js";
import { recordManifestTarget, refuseOtherTarget } from "./manifest-target.js";
import type { CopyOptions, CopySummary } from "./types.js";
import { emptyCopySummary, type NameProblem } from "../model/copy-results.js";

/** Measured on the bench (see README "Copy engine benchmark"): small files gain from more parallel calls. */
export const DEFAULT_CONCURRENCY = 16;
/**
 * Without --concurrency the small-file limit starts at DEFAULT_CONCURRENCY and climbs up to this
 * while files/s grows, but only once the target's fastest call has taken a network round trip
 * (SHARE_ROUND_TRIP_MS): a local disk answers in microseconds and keeps the default.
 */
export const ADAPTIVE_CONCURRENCY_CAP = 64;
const SHARE_ROUND_TRIP_MS = 0.2;
/** Files at or above this size use the large-file limit, so a few packages do not starve the logs. */
export const LARGE_FILE_BYTES = 8 * 1024 * 1024;
/** Name problems listed in full; beyond this only counted (a summary line says how many more). */
const NAME_PROBLEM_LIMIT = 1000;

export interface CopyEngineExtras {
  /** File-system calls (fault-injection seam); default node:fs. */
  ops?: FileOps;
  /** Parallel copies of files >= LARGE_FILE_BYTES; default max(2, concurrency / 4). */
  largeFileConcurrency?: number;
  /** Transient-error attempts per file operation (default 5) and first backoff (default 50 ms): RETRY_BUDGETS.fileOp. */
  retryAttempts?: number;
  retryBaseDelayMs?: number;
  /** How often the target lock's heartbeat is refreshed (tests: a lock lost is found sooner); default HEARTBEAT_MS. */
  lockHeartbeatMs?: number;
}

async function settingsOf(options: CopyOptions & CopyEngineExtras): Promise<Settings> {
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256) {
    throw new OctohaError(`concurrency must be an integer from 1 to 256, got ${String(options.concurrency)}`, {
      code: "COPY_BAD_OPTION",
      hint: "Pass e.g. --concurrency 16.",
    });
  }
  const labelIssue = options.sourceNode === undefined ? undefined : labelProblem(options.sourceNode);
  if (labelIssue) {
    throw new InputError(`The source's name '${options.sourceNode}' ${labelIssue}; it names the source's quarantine folder`, {
      code: "COPY_BAD_OPTION",
      hint: `Use ${LABEL_RULE}, e.g. the node's name: --node OCTO1.`,
    });
  }
  const ops = options.ops ?? nodeFileOps;
  // A source given through a link (a symlink or junction to the node's folder) is walked as the
  // folder it leads to: the walk lstats, and took the link itself for "not a folder". Unresolvable
  // (missing): left as typed, for the walk's error to name.
  const source = await ops.realpath(path.resolve(options.source)).catch(() => path.resolve(options.source));
  const target = path.resolve(options.target);
  const facts = await sourceFacts(ops, source);
  // Another folder mounted where this manifest's source was, with the same numbers, is told apart by its birth time.
  const under = facts && options.manifestPath ? await sourceIdUnder(ops, options.manifestPath, facts) : undefined;
  const sourceId = under?.id ?? facts?.id;
  return {
    ops,
    source,
    target,
    sourceId,
    sourceBorn: under?.recorded === false ? facts?.born : undefined,
    runTag: options.runTag,
    node: options.sourceNode ?? defaultLabel(sourceId),
    verify: options.verify ?? "sha256",
    policy: options.collisionPolicy ?? "keep-target",
    quarantineRoot: path.resolve(options.quarantineDir ?? path.join(target, STATE_FOLDER, "conflicts")),
    dryRun: options.dryRun === true,
    signal: options.signal,
    taskLogOwner: options.taskLogOwner,
    onCollision: options.onCollision,
    reservations: options.dryRun === true ? options.reservations : undefined,
    retry: {
      attempts: options.retryAttempts ?? RETRY_BUDGETS.fileOp.attempts,
      baseDelayMs: options.retryBaseDelayMs ?? RETRY_BUDGETS.fileOp.backoff.initialMs,
    },
    concurrency,
    adaptive: options.concurrency === undefined,
    largeConcurrency: options.largeFileConcurrency ?? Math.max(2, Math.floor(concurrency / 4)),
  };
}

/** A source without --node is labelled by its identity (two sources never share a quarantine folder by default). */
function defaultLabel(sourceId: string | undefined): string {
  return sourceId === undefined ? "source" : `source-${createHash("sha256").update(sourceId).digest("hex").slice(0, 8)}`;
}

interface PlanTotals {
  workFiles: number;
  workBytes: number;
  skipFiles: number;
  skipBytes: number;
  nameProblems: NameProblem[];
  nameProblemsOmitted: number;
}

/**
 * The plan's totals and Windows-name report, tallied from jobs as they stream past in walk order
 * (no system call: the listing already carries the target's size and mtime, and a name this run
 * reserved is "new").
 */
class PlanTally {
  readonly totals: PlanTotals = { workFiles: 0, workBytes: 0, skipFiles: 0, skipBytes: 0, nameProblems: [], nameProblemsOmitted: 0 };
  private lastParent: string | undefined;

  constructor(
    private readonly tactics: FileTactics,
    private readonly octopusRoot: string | undefined,
    /** Told the totals so far after each chunk (ProgressMeter.planning). */
    private readonly meter?: ProgressMeter,
  ) {}

  async *through(chunks: AsyncIterable<(FileJob | Problem)[]>): AsyncGenerator<(FileJob | Problem)[]> {
    const t = this.totals;
    for await (const jobs of chunks) {
      for (const job of jobs) this.add(job);
      this.meter?.looked(t.workFiles + t.skipFiles, t.workBytes + t.skipBytes, t.workFiles, t.workBytes);
      yield jobs;
    }
  }

  private add(job: FileJob | Problem): void {
    const totals = this.totals;
    if (!("kind" in job)) {
      totals.workFiles++; // reported by the copy pass
      return;
    }
    for (const p of nameProblems(job.targetRelPath, this.octopusRoot, job.entry.parentRel === this.lastParent ? 1 : undefined)) {
      if (totals.nameProblems.length < NAME_PROBLEM_LIMIT) totals.nameProblems.push(p);
      else totals.nameProblemsOmitted++;
    }
    if (this.tactics.isCheapSkip(job)) {
      totals.skipFiles++;
      totals.skipBytes += job.entry.size;
    } else {
      totals.workFiles++;
      totals.workBytes += job.entry.size;
    }
    this.lastParent = job.entry.parentRel;
  }
}

/** A real copy plans first (totals for progress and the free-space check), sequentially, before it writes. */
async function planPass(s: Settings, tactics: FileTactics, options: CopyOptions, trips: RoundTrips): Promise<PlanTotals> {
  const looking = ProgressMeter.planning(options.onProgress, trips);
  const tally = new PlanTally(tactics, options.targetAsOctopusSeesIt, looking);
  const jobs = jobStream({
    ops: s.ops,
    source: s.source,
    target: s.target,
    trackPending: false,
    reservations: s.reservations,
    signal: s.signal,
    onStateFolder: (name) => tactics.stateFolderLeftOut(name),
  });
  // An interrupt stops the listing now, not after it: a million-file plan on a share is minutes
  // (Ctrl-C 3 s into a local million-file no-op's plan used to return 12 s later).
  try {
    for await (const chunk of tally.through(jobs)) if (s.signal?.aborted) break;
  } catch (error) {
    if (!(error instanceof ListingInterrupted)) throw error;
  }
  looking.finish(); // what planning found in all
  return tally.totals;
}

/** The manifest is shorter than its snapshot says it was (or gone): someone emptied, cut, deleted or replaced it. */
function shrunkManifestWarning(file: string, { was, now }: { was: number; now: number | undefined }): string {
  const what = now === undefined ? "is gone" : `holds ${countOf(now, "byte")}`;
  return (
    `Manifest '${file}' ${what}, but octoha last wrote it with ${countOf(was, "byte")} (its snapshot '${file}.index' says so): ` +
    "it was emptied, cut short, deleted or replaced since, and octoha only ever appends to it. The files its lost records named are " +
    "verified by hash again (each is read on both sides, so this copy is slower); one that differs, a log that grew since its copy too, " +
    "is kept and reported as a collision, never overwritten."
  );
}

export async function copyTree(options: CopyOptions & CopyEngineExtras): Promise<CopySummary> {
  const started = Date.now();
  capYoungGeneration();
  const s = await settingsOf(options);
  const trips = new RoundTrips();
  s.ops = timeRoundTrips(s.ops, s.target, trips);
  await refuseOverlap(s.ops, s.source, s.target, options.manifestPath);
  await refuseLinkedStateFolder(s.ops, s.target);
  if (options.manifestPath) await refuseLinkedStateFiles(s.ops, options.manifestPath);
  if (options.manifestPath) await refuseOtherTarget(s.ops, s.target, options.manifestPath);
  const manifest = options.manifestPath ? await loadManifest(s.ops, options.manifestPath) : new ManifestIndex();
  const summary = emptyCopySummary();
  if (manifest.damaged) {
    const { lines, first } = manifest.damaged;
    (summary.warnings ??= []).push(
      `${first}${lines > 1 ? ` and ${countOf(lines - 1, "more line")}` : ""} is not a record octoha writes (a batch a crash cut short, an edit by hand, or damage on disk): ignored. The files it names are verified by hash again; one that differs is kept and reported, never overwritten.`,
    );
  }
  if (manifest.shrunk && options.manifestPath) (summary.warnings ??= []).push(shrunkManifestWarning(options.manifestPath, manifest.shrunk));
  const tactics = new FileTactics(s, manifest, summary);
  if (s.dryRun) return dryRunPass(s, options, tactics, summary, started, trips);
  const plan = await planPass(s, tactics, options, trips);
  applyPlan(summary, plan);

  if (s.signal?.aborted) return { ...summary, interrupted: true, durationMs: Date.now() - started };
  // Aborted, with the error as its reason, when the heartbeat finds the lock no longer ours.
  const lockLost = new AbortController();
  const lockWatch: LockWatch = {
    signal: lockLost.signal,
    heartbeatMs: options.lockHeartbeatMs,
    onLost: (now) => lockLost.abort(targetLockLostError(s.target, now)),
  };
  const lock = plan.workFiles > 0 ? await prepareTarget(s, options.lockOwner, plan.workBytes, summary, lockWatch) : undefined;
  try {
    // Before the manifest's first line; a manifest an older octoha wrote is adopted by this target.
    if (options.manifestPath && (plan.workFiles > 0 || manifest.coveredBytes > 0)) {
      await recordManifestTarget(s.ops, s.target, options.manifestPath);
      if (s.sourceId !== undefined) await recordSource(s.ops, options.manifestPath, s.sourceId, s.sourceBorn);
    }
    if (plan.workFiles === 0) {
      // Nothing to do: the planning pass already proved every file is at the target.
      await releaseDeadLock({ target: s.target, owner: options.lockOwner });
      summary.filesSkipped = plan.skipFiles;
      summary.bytesSkipped = plan.skipBytes;
      new ProgressMeter(0, 0, options.onProgress).finish(); // a renderer still gets its closing event
    } else {
      const meter = new ProgressMeter(plan.workFiles, plan.workBytes, options.onProgress, undefined, trips);
      await copyPass(s, options, tactics, meter, undefined, trips, lockLost.signal);
    }
    // The next run loads the index from a snapshot instead of parsing every line again.
    const snapshotStale = tactics.writer !== undefined || !manifest.snapshotFresh;
    if (lockLost.signal.aborted) throw lockLost.signal.reason as Error; // the target is another copy's now: write nothing more
    // Forced away after the last heartbeat: every file is written, but another copy may have judged them mid-write.
    if (lock && !(await lock.isHeld()))
      throw targetLockLostError(s.target, await readLockFile(targetLockFile(s.target)).catch(() => undefined), true);
    if (!s.dryRun && options.manifestPath && snapshotStale) {
      // The copy pass's listings and spare buffers go first, and the index takes this copy's records in one step.
      releaseSpareBuffers();
      collectGarbage();
      manifest.reserve(manifest.table().used + summary.filesCopied + (summary.filesQuarantined ?? 0));
      await refreshManifestSnapshot(s.ops, options.manifestPath, manifest);
    }
  } finally {
    await lock?.release();
  }
  summary.durationMs = Date.now() - started;
  summary.interrupted = s.signal?.aborted === true;
  return summary;
}

function applyPlan(summary: CopySummary, plan: PlanTotals): void {
  summary.nameProblems = plan.nameProblems;
  if (plan.nameProblemsOmitted > 0) summary.nameProblemsOmitted = plan.nameProblemsOmitted;
  summary.filesPlanned = plan.workFiles;
  summary.bytesPlanned = plan.workBytes;
}

/**
 * Dry-run in one pass: it writes nothing, so nothing needs the totals before the copy pass (no
 * progress bar to size, no space to check before the first byte). The tactics run on each job as
 * the plan is tallied from the same stream: every folder is listed and every file stat'ed once, not
 * twice. The free-space and access check follows, with the totals the pass found.
 */
async function dryRunPass(
  s: Settings,
  options: CopyOptions & CopyEngineExtras,
  tactics: FileTactics,
  summary: CopySummary,
  started: number,
  trips: RoundTrips,
): Promise<CopySummary> {
  const looking = ProgressMeter.planning(options.onProgress, trips);
  const tally = new PlanTally(tactics, options.targetAsOctopusSeesIt, looking);
  let complete = false;
  try {
    await copyPass(s, options, tactics, new ProgressMeter(0, 0, undefined), tally);
    looking.finish();
    const plan = tally.totals;
    applyPlan(summary, plan);
    // The closing event, with the totals the pass found (the pass itself cannot know them ahead).
    new ProgressMeter(plan.workFiles, plan.workBytes, options.onProgress).add(plan.workFiles, plan.workBytes);
    summary.interrupted = s.signal?.aborted === true;
    if (!summary.interrupted && plan.workFiles > 0) await prepareTarget(s, undefined, plan.workBytes, summary);
    summary.durationMs = Date.now() - started;
    complete = !summary.interrupted;
    return summary;
  } finally {
    // The next source's dry-run meets this one's would-be copies; a stopped or failed one's are not trusted.
    if (complete) s.reservations?.commit();
    else s.reservations?.abandon();
  }
}

/** Dry-run: the jobs that need no system call are done as they stream past; the rest go on to the pool. */
async function* withoutIo(
  chunks: AsyncIterable<(FileJob | Problem)[]>,
  tactics: FileTactics,
  signal: AbortSignal,
): AsyncGenerator<(FileJob | Problem)[]> {
  for await (const jobs of chunks) {
    if (signal.aborted) return;
    const rest = jobs.filter((job) => !tactics.doneWithoutIo(job));
    if (rest.length > 0) yield rest;
  }
}

/**
 * DST is a link (a symlink or junction) that leads to no folder: said as such, not as the generic
 * "Could not find a part of the path", which sent an operator looking for a folder that is there.
 */
function targetLinkError(target: string): InputError {
  return new InputError(`The target '${target}' is a link (a symlink or junction) that does not lead to a folder`, {
    code: "COPY_TARGET_LINK",
    path: target,
    hint: "Give the shared folder itself as DST, or create the folder the link leads to, then re-run.",
  });
}

/** The target lock's heartbeat, watched: `signal` is aborted (its reason the error) once the lock is no longer ours. */
interface LockWatch {
  signal: AbortSignal;
  heartbeatMs: number | undefined;
  onLost: (now: LockInfo | undefined) => void;
}

/**
 * Before the first byte: the target root exists (so the probe goes where the copies will), this
 * copy holds the target's lock (a real copy), and free space and write access are proven.
 */
async function prepareTarget(
  s: Settings,
  owner: LockOwner | undefined,
  bytes: number,
  summary: CopySummary,
  watch?: LockWatch,
): Promise<HeldLock | undefined> {
  collectGarbage(); // the planning pass's listings, before the copy pass lists the same folders
  let lock: HeldLock | undefined;
  let madeTarget = false;
  if (!s.dryRun) {
    const before = await s.ops.stat(s.target).catch(() => undefined);
    madeTarget = !before;
    // lstat's answer: neither a file nor a folder is a link (or a special file) where DST should be.
    const link = before !== undefined && !before.isDirectory && !before.isFile;
    await s.ops
      .mkdir(s.target)
      .catch((error: unknown) =>
        Promise.reject(link ? targetLinkError(s.target) : classifyFsError(error, { side: "target", path: s.target })),
      );
    // One writer per target: the copy pass lists it again under the lock and decides from that.
    const onWarning = (message: string): void => void (summary.warnings ??= []).push(message);
    lock = await lockTarget({ target: s.target, owner, onWarning, onLost: watch?.onLost, heartbeatMs: watch?.heartbeatMs });
  }
  try {
    // The copy pass sweeps dead temp files from the target folders it lists, never from the quarantine:
    // a kill -9 while a losing copy was being quarantined left its temp file there for good.
    // Never through a link where the quarantine should be: that would sweep a folder outside the target.
    const quarantine = s.dryRun ? undefined : await s.ops.stat(s.quarantineRoot).catch(() => undefined);
    const linked = quarantine !== undefined && !quarantine.isDirectory && !quarantine.isFile;
    if (!s.dryRun && !linked) await removeStaleTemps(s.quarantineRoot, s.ops);
    const preflight = await preflightTarget({ target: s.target, bytesNeeded: bytes, probe: !s.dryRun, ops: s.ops });
    if (!preflight.ok) throw preflight.problems[0]!;
  } catch (error) {
    await lock?.release(); // refused before the first byte: the next run must not find our lock
    // Nor the target folder this copy made for it (a full share, no write access): nothing was written.
    if (madeTarget) await s.ops.rmdir(s.target).catch(() => undefined);
    throw error;
  }
  return lock;
}

/** Every job of the stream through the pool; the manifest writer is open (and closed) around it. */
async function copyPass(
  s: Settings,
  options: CopyOptions & CopyEngineExtras,
  tactics: FileTactics,
  meter: ProgressMeter,
  tally?: PlanTally,
  trips?: RoundTrips,
  /** Aborted when the target lock is lost: the copy stops, failing with the signal's reason. */
  lockLost?: AbortSignal,
): Promise<void> {
  const writer = s.dryRun || !options.manifestPath ? undefined : await ManifestWriter.open(s.ops, options.manifestPath);
  tactics.writer = writer;
  // Our own controller: a fatal error in one file stops the others (they clean up their temp files).
  const stop = new AbortController();
  const onAbort = (): void => stop.abort();
  s.signal?.addEventListener("abort", onAbort, { once: true });
  if (s.signal?.aborted) stop.abort(); // interrupted before this pass (its listener would never fire)
  let fatal: OctohaError | undefined;
  const onLockLost = (): void => {
    fatal ??= lockLost!.reason as OctohaError;
    stop.abort();
  };
  lockLost?.addEventListener("abort", onLockLost, { once: true });
  if (lockLost?.aborted) onLockLost();
  try {
    const stream = jobStream({
      ops: s.ops,
      source: s.source,
      target: s.target,
      // Case variants are decided one after another, in a dry-run too: each meets what the one
      // before it would have left (the dry-run's winner and quarantine are the run's).
      trackPending: true,
      reservations: s.reservations,
      signal: stop.signal,
      onStateFolder: (name) => tactics.stateFolderLeftOut(name),
      ...(s.dryRun ? {} : { onStaleTemp: (p: string) => s.ops.unlink(p).catch(() => undefined), createFolders: true }),
    });
    const tallied = tally ? tally.through(stream) : stream;
    const jobs = s.dryRun ? withoutIo(tallied, tactics, stop.signal) : tallied;
    const adapt =
      s.adaptive && trips ? { cap: ADAPTIVE_CONCURRENCY_CAP, worthRaising: () => trips.floorMs >= SHARE_ROUND_TRIP_MS } : undefined;
    const queued = (job: FileJob | Problem): void => tactics.queued(job);
    const pool = { small: s.concurrency, large: s.largeConcurrency, largeBytes: LARGE_FILE_BYTES, signal: stop.signal, adapt, queued };
    await runPool(jobs, pool, async (job: FileJob | Problem) => {
      try {
        const counted = await tactics.process(job, stop.signal);
        if (counted && "kind" in job) meter.add(1, job.entry.size);
      } catch (error) {
        fatal ??= classifyFsError(error, { side: "target", path: s.target });
        stop.abort();
      }
    }).catch((error: unknown) => {
      // `stop` was aborted (an interrupt, or `fatal`): the listing stopped; the caller says which.
      if (!(error instanceof ListingInterrupted)) throw error;
    });
  } finally {
    s.signal?.removeEventListener("abort", onAbort);
    lockLost?.removeEventListener("abort", onLockLost);
    meter.finish();
    try {
      await writer?.close();
    } catch (error) {
      fatal ??= classifyFsError(error, { side: "target", path: options.manifestPath ?? s.target });
    }
  }
  if (fatal) throw fatal;
}
