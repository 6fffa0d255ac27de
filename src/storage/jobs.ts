/**
 * Pairs each source entry with what the target holds under the same case-folded name, folder by
 * folder, and says which tactic applies. Only structure is decided here (no hashing): the same
 * stream feeds the planning pass (totals, name report) and the copying pass.
 */
import path from "node:path";
import type { FileOps, FileStat } from "./file-ops.js";
import type { TargetReservations } from "./reservations.js";
import { TargetDirIndex, listedStat, type TargetName } from "./target-index.js";
import { walkTree, type WalkEntry } from "./walk.js";

export type FileEntry = Extract<WalkEntry, { type: "file" }>;

export type JobKind =
  /** Nothing at the target under this name: copy. */
  | "new"
  /** The same name exists: skip if same, else a different-bytes collision. */
  | "same-name"
  /** A name differing only in case exists (collides on a Windows share). */
  | "case-only"
  /** The target has a folder where the source has a file, or a file where the source has a folder. */
  | "file-vs-folder";

export interface FileJob {
  kind: JobKind;
  entry: FileEntry;
  /** Where the file goes (or what it collides with), relative to the target root. */
  targetRelPath: string;
  /** Set for "new" jobs when pending names are tracked: settle it when the job is finished. */
  settle?: () => void;
  /** For "case-only": the earlier name this run is still writing, if any. */
  waitFor?: Promise<void>;
  /** For "case-only": the source file (relPath) this run writes under the existing name, if any. */
  reservedFrom?: string;
  /** What the target folder's listing said about the existing name (absent when this run reserved it). */
  targetStat?: FileStat;
  /** Dry-run: the existing name is an earlier source's file the run would have copied (its path and node). */
  virtualAt?: string;
  virtualNode?: string;
  /** Creates the target folder once for all the files in it. */
  ensureFolder: () => Promise<void>;
}

/** A source entry that is not a file job: a symlink or special file, or an unreadable entry. */
export interface Problem {
  entry: Exclude<WalkEntry, { type: "file" } | { type: "dir" }>;
}

interface DirResolution {
  targetRel: string;
  /** Target relPath of the file that stands where this folder should be. */
  blockedBy?: string;
}

interface DirContext extends DirResolution {
  index: TargetDirIndex;
  ensureFolder: () => Promise<void>;
}

export interface JobStreamOptions {
  ops: FileOps;
  source: string;
  target: string;
  /** Track in-flight names (copy pass) so case-variant sources wait for each other. */
  trackPending: boolean;
  /** Delete our temp files from a killed run as folders are listed (not in dry-run). */
  onStaleTemp?: (absPath: string) => Promise<void>;
  /** Dry-run: what earlier sources would have left at the target, seen as if listed there. */
  reservations?: TargetReservations;
}

function join(a: string, b: string): string {
  return a === "" ? b : `${a}/${b}`;
}

function absOf(root: string, rel: string): string {
  return rel === "" ? root : path.join(root, ...rel.split("/"));
}

/** Jobs in chunks (one per listing chunk), in walk order. */
export async function* jobStream(options: JobStreamOptions): AsyncGenerator<(FileJob | Problem)[]> {
  const { ops, target } = options;
  // Folders seen in their parent but not entered yet; removed on entry, so this never holds the tree.
  const resolutions = new Map<string, DirResolution>([["", { targetRel: "" }]]);
  let current: DirContext | undefined;
  let currentSrcRel: string | undefined;

  const enter = async (srcRel: string): Promise<DirContext> => {
    const resolution = resolutions.get(srcRel) ?? { targetRel: srcRel };
    resolutions.delete(srcRel);
    const abs = absOf(target, resolution.targetRel);
    const stale: string[] = [];
    const index = resolution.blockedBy ? new TargetDirIndex(srcRel) : await TargetDirIndex.load(ops, abs, resolution.targetRel, stale, options.reservations, srcRel);
    if (options.onStaleTemp) for (const name of stale) await options.onStaleTemp(path.join(abs, name));
    let made: Promise<void> | undefined;
    return { ...resolution, index, ensureFolder: () =>
        (made ??= ops.mkdir(abs).catch((error: unknown) => {
          made = undefined; // let a retry try again
          throw error;
        })),
    };
  };

  for await (const entries of walkTree(ops, options.source)) {
    const jobs: (FileJob | Problem)[] = [];
    for (const entry of entries) {
      if (entry.type === "error") {
        // A folder the walk could not list is reported as it is. Nothing at the target is looked
        // at for it, so the folder it sits in (entered earlier) is not entered and listed again.
        jobs.push({ entry });
        continue;
      }
      if (entry.parentRel !== currentSrcRel) {
        current = await enter(entry.parentRel);
        currentSrcRel = entry.parentRel;
      }
      const job = jobFor(current!, entry, resolutions, options.trackPending);
      if (job) jobs.push(job);
    }
    if (jobs.length > 0) yield jobs;
  }
}

/** The job for one entry of the current folder; folders only record how they map to the target. */
function jobFor(ctx: DirContext, entry: WalkEntry, resolutions: Map<string, DirResolution>, trackPending: boolean): FileJob | Problem | undefined {
  if (entry.type === "other" || entry.type === "error") return { entry };
  const existing: TargetName | undefined = ctx.blockedBy ? undefined : ctx.index.find(entry.name);
  if (entry.type === "dir") {
    resolutions.set(entry.relPath, resolveDir(ctx, entry.name, existing));
    if (!existing && !ctx.blockedBy) ctx.index.reserveFolder(entry.name);
    return undefined;
  }
  // Built field by field (no conditional spreads): this runs once per file on the hot path.
  const job: FileJob = { kind: "new", entry, targetRelPath: "", ensureFolder: ctx.ensureFolder };
  if (ctx.blockedBy) {
    job.kind = "file-vs-folder";
    job.targetRelPath = ctx.blockedBy;
  } else if (!existing) {
    job.targetRelPath = join(ctx.targetRel, entry.name);
    if (trackPending) {
      const index = ctx.index;
      let slot = -1;
      slot = index.reserveFile(
        entry.name,
        new Promise<void>((resolve) => {
          job.settle = () => {
            index.settle(slot); // a folder of 250 000 files must not keep 250 000 promises
            resolve();
          };
        }),
      );
    } else ctx.index.reserveFile(entry.name);
  } else {
    job.targetRelPath = join(ctx.targetRel, existing.name);
    if (existing.isDirectory) job.kind = "file-vs-folder";
    else {
      job.kind = existing.name === entry.name ? "same-name" : "case-only";
      if (existing.pending) job.waitFor = existing.pending;
      if (existing.from) job.reservedFrom = existing.from;
      const stat = listedStat(existing);
      if (stat) job.targetStat = stat;
      if (existing.virtualAt !== undefined) {
        job.virtualAt = existing.virtualAt;
        job.virtualNode = existing.virtualNode;
      }
    }
  }
  return job;
}

function resolveDir(ctx: DirContext, name: string, existing: TargetName | undefined): DirResolution {
  if (ctx.blockedBy) return { targetRel: join(ctx.targetRel, name), blockedBy: ctx.blockedBy };
  if (!existing) return { targetRel: join(ctx.targetRel, name) };
  // A folder differing only in case is the same folder on a Windows share: merge into it.
  if (existing.isDirectory) return { targetRel: join(ctx.targetRel, existing.name) };
  return { targetRel: join(ctx.targetRel, name), blockedBy: join(ctx.targetRel, existing.name) };
}
