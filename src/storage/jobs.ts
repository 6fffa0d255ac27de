/**
 * Pairs each source entry with what the target holds under the same case-folded name, folder by
 * folder, and says which tactic applies. Only structure is decided here (no hashing): the same
 * stream feeds the planning pass (totals, name report) and the copying pass.
 */
import path from "node:path";
import type { FileOps } from "./file-ops.js";
import { TargetDirIndex, type TargetName } from "./target-index.js";
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
}

function join(a: string, b: string): string {
  return a === "" ? b : `${a}/${b}`;
}

function absOf(root: string, rel: string): string {
  return rel === "" ? root : path.join(root, ...rel.split("/"));
}

export async function* jobStream(options: JobStreamOptions): AsyncGenerator<FileJob | Problem> {
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
    const index = resolution.blockedBy ? new TargetDirIndex() : await TargetDirIndex.load(ops, abs, resolution.targetRel, stale);
    if (options.onStaleTemp) for (const name of stale) await options.onStaleTemp(path.join(abs, name));
    let made: Promise<void> | undefined;
    return { ...resolution, index, ensureFolder: () =>
        (made ??= ops.mkdir(abs).catch((error: unknown) => {
          made = undefined; // let a retry try again
          throw error;
        })),
    };
  };

  for await (const entry of walkTree(ops, options.source)) {
    if (entry.parentRel !== currentSrcRel) {
      current = await enter(entry.parentRel);
      currentSrcRel = entry.parentRel;
    }
    const ctx = current!;
    if (entry.type === "other" || entry.type === "error") {
      yield { entry };
      continue;
    }
    const existing: TargetName | undefined = ctx.blockedBy ? undefined : ctx.index.find(entry.name);
    if (entry.type === "dir") {
      resolutions.set(entry.relPath, resolveDir(ctx, entry.name, existing));
      if (!existing && !ctx.blockedBy) ctx.index.reserve({ name: entry.name, isDir: true });
      continue;
    }
    const base = { entry, ensureFolder: ctx.ensureFolder };
    if (ctx.blockedBy) {
      yield { ...base, kind: "file-vs-folder", targetRelPath: ctx.blockedBy };
    } else if (!existing) {
      let settle: (() => void) | undefined;
      const pending = options.trackPending ? new Promise<void>((resolve) => (settle = resolve)) : undefined;
      ctx.index.reserve({ name: entry.name, isDir: false, from: entry.relPath, ...(pending ? { pending } : {}) });
      yield { ...base, kind: "new", targetRelPath: join(ctx.targetRel, entry.name), ...(settle ? { settle } : {}) };
    } else if (existing.isDir) {
      yield { ...base, kind: "file-vs-folder", targetRelPath: join(ctx.targetRel, existing.name) };
    } else {
      const kind = existing.name === entry.name ? "same-name" : "case-only";
      yield {
        ...base,
        kind,
        targetRelPath: join(ctx.targetRel, existing.name),
        ...(existing.pending ? { waitFor: existing.pending } : {}),
        ...(existing.from ? { reservedFrom: existing.from } : {}),
      };
    }
  }
}

function resolveDir(ctx: DirContext, name: string, existing: TargetName | undefined): DirResolution {
  if (ctx.blockedBy) return { targetRel: join(ctx.targetRel, name), blockedBy: ctx.blockedBy };
  if (!existing) return { targetRel: join(ctx.targetRel, name) };
  // A folder differing only in case is the same folder on a Windows share: merge into it.
  if (existing.isDir) return { targetRel: join(ctx.targetRel, existing.name) };
  return { targetRel: join(ctx.targetRel, name), blockedBy: join(ctx.targetRel, existing.name) };
}
