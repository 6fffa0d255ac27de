/**
 * Pairs each source entry with what the target holds under the same case-folded name, folder by
 * folder, and says which tactic applies. Only structure is decided here (no hashing): the same
 * stream feeds the planning pass (totals, name report) and the copying pass.
 */
import path from "node:path";
import type { FileOps, FileStat, ListedPart } from "./file-ops.js";
import type { TargetReservations } from "./reservations.js";
import { TargetDirIndex, listedStat, type NameHolder, type TargetName } from "./target-index.js";
import { foldName } from "./fold.js";
import { FolderNames, walkTree, type WalkEntry } from "./walk.js";
import { partIndex, spillTarget, type SpilledTarget } from "./target-parts.js";
import { boundListing } from "./heap.js";

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
  /** Set when pending names are tracked and a case variant may meet the name: settle it when the job is finished. */
  settle?: () => void;
  /** For "same-name" and "case-only": the earlier job on the name (a case variant's) still running, if any. */
  waitFor?: Promise<void>;
  /** Case variants' jobs on one target name (they take turns): which of this run's files it holds now. */
  holder?: NameHolder;
  /** What the target folder's listing said about the existing name (absent when this run reserved it). */
  targetStat?: FileStat;
  /** Dry-run: the existing name is an earlier source's file the run would have copied (its path and node). */
  virtualAt?: string;
  virtualNode?: string;
  /** Creates the target folder once for all the files in it. */
  ensureFolder: () => Promise<void>;
}

/** A source entry that is not a file job: a symlink or special file, a name like our temp files', or an unreadable entry. */
export interface Problem {
  entry: Exclude<WalkEntry, { type: "file" } | { type: "dir" }>;
}

interface DirResolution {
  targetRel: string;
  /** Target relPath of the file that stands where this folder should be. */
  blockedBy?: string;
  /** The parent's listing has nothing under this name: the target folder is not listed (it is empty). */
  absent?: boolean;
  /** The target folder's own size, as its parent's listing found it (how to read it: ListOptions). */
  folderSize?: number | undefined;
}

interface DirContext extends DirResolution {
  /** The source folder being walked. */
  srcRel: string;
  index: TargetDirIndex;
  ensureFolder: () => Promise<void>;
  /** The case-folded target folder, when its index is shared (not for a folder blocked by a file). */
  key?: string;
  /** createFolders: this folder's creation has been started. */
  creating?: boolean;
  /**
   * Another source folder maps onto this target folder or one above it (`Dir/`, `dir/`): its names
   * meet this folder's in the index, so every name written is kept there, not only case variants.
   */
  shared?: boolean;
}

/** A target folder's index and folder creation, shared by every source folder that maps onto it. */
interface TargetFolder {
  index: TargetDirIndex;
  ensureFolder: () => Promise<void>;
  /**
   * For a source folder walked a part at a time (and no other source folder mapped here): the
   * target's names by bucket; `index` is then the current part's (partIndex).
   */
  spilled?: SpilledTarget;
}

/** A part of a source folder walked a part at a time (JobStreamOptions.onPart): buckets [lo, hi) of the target folder `targetRel`. */
export interface JobPart {
  targetRel: string;
  lo: number;
  hi: number;
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
  /** Start creating a target folder as soon as a file that needs it is planned (copy pass, not dry-run). */
  createFolders?: boolean;
  /**
   * Once aborted, planning starts no folder creation (the pool may still take a chunk after an
   * interrupt), and the listings stop with ListingInterrupted at their next batch.
   */
  signal?: AbortSignal;
  /** Told each state folder at the source root that is not copied (walk.ts, isStateFolder). */
  onStateFolder?: (name: string) => void;
  /** Awaited before the first job of each part of a source folder walked a part at a time (name-spill.ts). */
  onPart?: (part: JobPart) => Promise<void>;
}

/**
 * Target folders listed ahead of the walk: the next ones it will enter, so their round trips
 * overlap the files being copied (a folder per task on a share is otherwise a listing round trip
 * after another). Each holds one folder's index until the walk gets there.
 */
const LIST_AHEAD = 8;

function join(a: string, b: string): string {
  return a === "" ? b : `${a}/${b}`;
}

function absOf(root: string, rel: string): string {
  return rel === "" ? root : path.join(root, ...rel.split("/"));
}

/**
 * Jobs in chunks (one per listing chunk), in walk order. Source folders whose names differ only in
 * case (`Dir/`, `dir/`) are one folder on a Windows share: they share one index of that target
 * folder, so each one's files meet the other's (reserved, in flight, written) instead of racing
 * them. An index is dropped when the walk leaves its folder, except under a target folder that
 * several source folders map onto: their sub-folders meet again (`Dir/x/`, `dir/x/`), so those
 * indexes stay until the end (case-variant folders are rare; the common tree keeps one index).
 */
export async function* jobStream(options: JobStreamOptions): AsyncGenerator<(FileJob | Problem)[]> {
  const { ops, target } = options;
  // Folders seen in their parent but not entered yet; removed on entry, so this never holds the tree.
  const resolutions = new Map<string, DirResolution>([["", { targetRel: "" }]]);
  // Case-folded target folder → its index, while it may be entered (again).
  const folders = new Map<string, TargetFolder>();
  // Case-folded target folders that more than one source folder maps onto, and how many map there.
  const mapped = new Map<string, number>();
  const shared = new Set<string>();
  let current: DirContext | undefined;
  // What each source folder's listing told of its names (walk.ts, FolderNames).
  const sourceNames = new FolderNames();
  // Target folders' names spilled for a source folder walked a part at a time: closed once left, or at the end.
  const spills = new Set<SpilledTarget>();
  let ended = false;
  const sweepStale = async (absDir: string, stale: string[]): Promise<void> => {
    if (options.onStaleTemp) await Promise.all(stale.map((name) => options.onStaleTemp!(path.join(absDir, name))));
  };

  const folderMaker = (abs: string): (() => Promise<void>) => {
    let made: Promise<void> | undefined;
    return () =>
      (made ??= ops.mkdir(abs).catch((error: unknown) => {
        made = undefined; // let a retry try again
        throw error;
      }));
  };
  const load = async (r: DirResolution, srcRel: string): Promise<TargetFolder> => {
    const abs = absOf(target, r.targetRel);
    // Not there when its parent was listed: nothing to list (and no round trip to learn that).
    if (r.absent) return { index: new TargetDirIndex(srcRel), ensureFolder: folderMaker(abs) };
    const stale: string[] = [];
    // The source folder's names, when its listing told them and no other source folder is known to
    // map here (enter() loads again, whole, if one turns out to).
    const key = foldName(r.targetRel);
    const sharedNow = (): boolean => sharedAt(key) || (mapped.get(key) ?? 0) > 1;
    let only = sharedNow() ? undefined : await sourceNames.of(srcRel);
    if (sharedNow()) only = undefined; // another source folder showed up while this one's names were read
    if (only === "parts") {
      // Walked a part at a time: each part's index is built when the part comes (enterPart).
      const spilled = await spillTarget(ops, abs, r.targetRel, r.folderSize, options.signal);
      if (spilled) {
        // Loaded ahead for a folder the stream ended before: closed here, or nothing would close it
        // (a FileHandle left to the collector is closed with a warning).
        if (ended) await spilled.names.close();
        else spills.add(spilled);
        const placeholder = new TargetDirIndex(srcRel);
        placeholder.filtered = true;
        return { index: placeholder, ensureFolder: folderMaker(abs), spilled };
      }
      only = undefined; // not spilled: the whole folder, as before
    }
    const index = await TargetDirIndex.load(ops, abs, r.targetRel, stale, {
      reservations: options.reservations,
      sourceRel: srcRel,
      folderSize: r.folderSize,
      tree: target,
      signal: options.signal,
      only,
    });
    await sweepStale(abs, stale);
    return { index, ensureFolder: folderMaker(abs) };
  };

  // The walk's pending folders, mirrored: `upcoming` is its stack (next on top), `children` the
  // current folder's sub-folders (entered next, first one first). `ahead` holds their loads.
  const upcoming: string[] = [];
  let children: string[] = [];
  const ahead = new Map<string, Promise<TargetFolder>>();
  const listAhead = (): void => {
    let n = 0;
    const consider = (srcRel: string): boolean => {
      if (n++ >= LIST_AHEAD) return false;
      const r = resolutions.get(srcRel);
      if (!r || r.blockedBy || r.absent || ahead.has(srcRel)) return true;
      const key = foldName(r.targetRel);
      if (folders.has(key) || (mapped.get(key) ?? 0) > 1) return true;
      const loading = load(r, srcRel);
      loading.catch(() => undefined); // awaited when entered; a folder never entered must not crash the run
      ahead.set(srcRel, loading);
      return true;
    };
    for (const c of children) if (!consider(c)) return;
    for (let i = upcoming.length - 1; i >= 0; i--) if (!consider(upcoming[i]!)) return;
  };

  /**
   * The part (of a source folder walked a part at a time) whose jobs come next: the target folder's
   * index becomes the part's, unless the target folder is whole (shared, or not spilled). Not built
   * ahead while the part before is planned: that was ~6-10 MiB more at the peak, and no faster.
   */
  const enterPart = async (ctx: DirContext, part: ListedPart | undefined): Promise<void> => {
    const folder = ctx.key === undefined ? undefined : folders.get(ctx.key);
    if (folder?.spilled && !ctx.shared) {
      const stale: string[] = [];
      const { reservations, signal } = options;
      folder.index = ctx.index = await partIndex(ops, folder.spilled, part, stale, {
        reservations,
        sourceRel: ctx.srcRel,
        tree: target,
        signal,
      });
      await sweepStale(folder.spilled.absDir, stale);
    }
    if (part) await options.onPart?.({ targetRel: ctx.targetRel, lo: part.lo, hi: part.hi });
  };

  const enter = async (srcRel: string): Promise<DirContext> => {
    for (let i = children.length - 1; i >= 0; i--) upcoming.push(children[i]!);
    children = [];
    // Folders the walk passed without entries (empty, or unreadable) are popped on the way.
    while (upcoming.length > 0) {
      const top = upcoming.pop()!;
      if (top === srcRel) break;
      ahead.delete(top);
    }
    const resolution = resolutions.get(srcRel) ?? { targetRel: srcRel };
    resolutions.delete(srcRel);
    const early = ahead.get(srcRel);
    ahead.delete(srcRel);
    if (resolution.blockedBy) return { ...resolution, srcRel, index: new TargetDirIndex(srcRel), ensureFolder: () => Promise.resolve() };
    const key = foldName(resolution.targetRel);
    let folder = folders.get(key);
    if (!folder) folder = await (early ?? load(resolution, srcRel));
    // Listed ahead for this folder's names only, before its parent's listing showed that another
    // source folder maps here too (`Dir/`, `dir/`): the other's names would not find theirs. The
    // parent's listing is whole by now, so `shared` is known; nothing is reserved in it yet.
    if (folder.index.filtered && sharedAt(key)) folder = await load(resolution, srcRel);
    folders.set(key, folder);
    return { ...resolution, srcRel, key, index: folder.index, ensureFolder: folder.ensureFolder, shared: sharedAt(key) };
  };

  /** The target folder `key`, or one above it, is one that several source folders map onto. */
  const sharedAt = (key: string): boolean => {
    if (shared.size > 0)
      for (let k = key; ; k = k.slice(0, Math.max(0, k.lastIndexOf("/")))) {
        if (shared.has(k)) return true;
        if (k === "") break;
      }
    return false;
  };
  /** The walk left a source folder mapped onto `key`: its index goes unless that target folder (or one above it) is shared. */
  const leave = async (key: string | undefined): Promise<void> => {
    if (key === undefined) return;
    mapped.delete(key);
    if (sharedAt(key)) return;
    const spilled = folders.get(key)?.spilled;
    folders.delete(key);
    if (spilled) {
      spills.delete(spilled);
      await spilled.names.close();
    }
  };
  // Case variants are siblings, listed together before either is entered: counted here, in time.
  const expect = (resolution: DirResolution): void => {
    if (resolution.blockedBy) return;
    const key = foldName(resolution.targetRel);
    const n = (mapped.get(key) ?? 0) + 1;
    mapped.set(key, n);
    if (n > 1) shared.add(key);
  };

  try {
    for await (const entries of walkTree(ops, options.source, options.signal, sourceNames, options.onStateFolder)) {
      const jobs: (FileJob | Problem)[] = [];
      const part = entries.part;
      if (part) {
        // A part's first chunk: the part's index before its first job (a chunk is one folder's).
        const rel = entries[0]!.parentRel;
        if (rel !== current?.srcRel) {
          await leave(current?.key);
          current = await enter(rel);
        }
        await enterPart(current, part);
      }
      for (const entry of entries) {
        if (entry.type === "error") {
          // A folder the walk could not list is reported as it is. Nothing at the target is looked
          // at for it, so the folder it sits in (entered earlier) is not entered and listed again.
          resolutions.delete(entry.relPath);
          jobs.push({ entry });
          continue;
        }
        if (entry.parentRel !== current?.srcRel) {
          await leave(current?.key);
          current = await enter(entry.parentRel);
          // Spilled, and its first chunk unmarked (its names held whole after all): all of the target's.
          if (current.key !== undefined && folders.get(current.key)?.spilled) await enterPart(current, undefined);
        }
        const job = jobFor(current, entry, resolutions, options.trackPending, expect);
        if (entry.type === "dir") children.push(entry.relPath);
        else if (job && options.createFolders && "kind" in job && job.kind === "new" && !current.creating && !options.signal?.aborted) {
          current.creating = true;
          job.ensureFolder().catch(() => undefined); // the file's own call waits for it, retries, reports
        }
        if (job) jobs.push(job);
      }
      listAhead();
      if (jobs.length > 0) yield jobs;
      boundListing(entries.length);
    }
  } finally {
    ended = true;
    await Promise.all([...spills].map((spilled) => spilled.names.close()));
  }
}

/** The job for one entry of the current folder; folders only record how they map to the target. */
function jobFor(
  ctx: DirContext,
  entry: WalkEntry,
  resolutions: Map<string, DirResolution>,
  trackPending: boolean,
  expect: (r: DirResolution) => void,
): FileJob | Problem | undefined {
  if (entry.type === "other" || entry.type === "error" || entry.type === "temp-name" || entry.type === "state-name") return { entry };
  const existing: TargetName | undefined = ctx.blockedBy ? undefined : ctx.index.find(entry.name);
  if (entry.type === "dir") {
    const resolution = resolveDir(ctx, entry.name, existing);
    resolutions.set(entry.relPath, resolution);
    expect(resolution);
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
    // A name no later name can meet (no case variant in its folder, no other source folder here) is
    // not kept: a million task logs' names were ~46 MB of the index at the end of a copy.
    if (entry.caseUnique && !ctx.shared) return job;
    if (trackPending) {
      const { index } = ctx;
      takeTurn(index, job, (turn) => index.reserveFile(entry.name, turn, ctx.srcRel));
    } else ctx.index.reserveFile(entry.name, undefined, ctx.srcRel);
  } else {
    job.targetRelPath = join(ctx.targetRel, existing.name);
    if (existing.isDirectory) job.kind = "file-vs-folder";
    else {
      job.kind = existing.name === entry.name ? "same-name" : "case-only";
      if (existing.pending) job.waitFor = existing.pending;
      // After an earlier job's turn, the listing's facts may be stale (it replaced the file): stat then.
      const stat = existing.pending ? undefined : listedStat(existing);
      if (stat) job.targetStat = stat;
      // Case variants among the sources meet this one name: one job after another decides about it
      // (two at once quarantined the same file through one temp name, and replaced each other).
      if (trackPending && !(entry.caseUnique && !ctx.shared)) {
        const { index } = ctx;
        takeTurn(index, job, (turn) => index.takeTurn(entry.name, turn));
      }
      if (existing.virtualAt !== undefined) {
        job.virtualAt = existing.virtualAt;
        job.virtualNode = existing.virtualNode;
      }
    }
  }
  return job;
}

/**
 * The job's turn on its target name: `register` hands the index a promise that later jobs on the
 * name wait for, settled (and dropped from the index) when the job is done.
 */
function takeTurn(index: TargetDirIndex, job: FileJob, register: (turn: Promise<void>) => number): void {
  let slot = -1;
  let done = (): void => undefined;
  const turn = new Promise<void>((resolve) => (done = resolve));
  job.settle = () => {
    index.settle(slot, turn); // a folder of 250 000 files must not keep 250 000 promises
    done();
  };
  slot = register(turn);
  if (slot >= 0) job.holder = index.holderOf(slot);
}

function resolveDir(ctx: DirContext, name: string, existing: TargetName | undefined): DirResolution {
  if (ctx.blockedBy) return { targetRel: join(ctx.targetRel, name), blockedBy: ctx.blockedBy };
  if (!existing) return { targetRel: join(ctx.targetRel, name), absent: true };
  // A folder differing only in case is the same folder on a Windows share: merge into it.
  if (existing.isDirectory) return { targetRel: join(ctx.targetRel, existing.name), folderSize: existing.size };
  return { targetRel: join(ctx.targetRel, name), blockedBy: join(ctx.targetRel, existing.name) };
}
