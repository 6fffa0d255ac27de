/**
 * Streaming, read-only walk of a node folder. Memory is bounded by one directory's sub-folder
 * names, never by the tree: a million files are never held at once. Entries of one directory come
 * out together (files and sub-folders), then each sub-folder in turn, so a consumer can keep just
 * one target-folder index at a time.
 */
import path from "node:path";
import { ListingInterrupted, stopIfAborted, type FileOps, type ListedPart, type ToldNames } from "./file-ops.js";
import { classifyFsError } from "./copy-errors.js";

/**
 * How our temp files' names end (temp-names.ts). A source name that ends so is not copied under it
 * (at the target it would pass for a temp file of ours): the walk reports it ("temp-name").
 */
export const TEMP_SUFFIX = ".octoha-tmp";
/** Our own state folder (manifest, quarantine) at the root of a copy target. */
export const STATE_FOLDER = ".octoha";

export type WalkEntry =
  | {
      type: "file";
      relPath: string;
      parentRel: string;
      name: string;
      size: number;
      mtimeMs: number;
      atimeMs: number;
      /** No other name in the folder is this one case-insensitively (the listing checked: DirEntry.caseUnique). */
      caseUnique: boolean;
    }
  /** size: the folder's own (st_size), which says how to read it (ListOptions.folderSize). */
  | { type: "dir"; relPath: string; parentRel: string; name: string; size: number }
  /** A symlink, device or socket: not copied, reported. */
  | { type: "other"; relPath: string; parentRel: string; name: string }
  /** A file or folder named like one of our temp files (TEMP_SUFFIX): not copied (a folder not entered), reported. */
  | { type: "temp-name"; relPath: string; parentRel: string; name: string; isDirectory: boolean }
  /** A file at the root named `.octoha` in any case: on a Windows share the target's state folder's name. Not copied, reported. */
  | { type: "state-name"; relPath: string; parentRel: string; name: string }
  /** A sub-folder or file that could not be listed or stat'ed. */
  | { type: "error"; relPath: string; parentRel: string; name: string; error: unknown };

/** A folder's entries, a chunk of them. The first chunk of each part of a folder walked a part at a time says so (ListChunk). */
export type WalkChunk = WalkEntry[] & { part?: ListedPart };

function join(parentRel: string, name: string): string {
  return parentRel === "" ? name : `${parentRel}/${name}`;
}

/**
 * `.octoha` in any case at a copy's root: octoha's state folder, or on a Windows share (which
 * ignores case) the same folder. A source's is never copied: its manifest, lock and quarantine
 * would land in the target's own.
 */
export function isStateFolder(parentRel: string, name: string): boolean {
  return parentRel === "" && name.toLowerCase() === STATE_FOLDER;
}

/**
 * Source folders listed ahead of the walk (the next ones on its stack, each only up to its first
 * chunk): a folder per task is otherwise one listing round trip after another, the whole walk
 * waiting on each (a share, or a local disk whose thread pool is busy with the target's calls).
 * Memory: at most this many folders' first chunks (and sorted names) beyond the current one.
 */
export const WALK_AHEAD = 16;

/** A folder's listing, started early: its iterator, and its first chunk in flight. */
interface Started {
  chunks: AsyncGenerator<WalkChunk>;
  first: Promise<IteratorResult<WalkChunk>>;
}

/**
 * What each source folder's listing told of its names' hashes (ListOptions.onNames: sorted, "parts"
 * for a folder walked a part at a time, or undefined when it told nothing), by relPath, for whoever
 * asks first: jobStream lists the target folder of the same name for those names only (or spills
 * it for the parts), and may ask before the walk has started that folder's listing (it lists
 * target folders ahead). A folder's answer goes once the walk has left it.
 */
export class FolderNames {
  private readonly told = new Map<string, { answer: Promise<ToldNames>; tell: (hashes: ToldNames) => void }>();

  /** The folder's answer, once its listing has told it (or has shown its first chunk without telling). */
  of(rel: string): Promise<ToldNames> {
    return this.entry(rel).answer;
  }

  /** The first answer counts. */
  tell(rel: string, hashes: ToldNames): void {
    this.entry(rel).tell(hashes);
  }

  forget(rel: string): void {
    this.told.delete(rel);
  }

  private entry(rel: string): { answer: Promise<ToldNames>; tell: (hashes: ToldNames) => void } {
    let found = this.told.get(rel);
    if (!found) {
      let tell: (hashes: ToldNames) => void = () => undefined;
      const answer = new Promise<ToldNames>((resolve) => (tell = resolve));
      this.told.set(rel, (found = { answer, tell }));
    }
    return found;
  }
}

function start(
  ops: FileOps,
  root: string,
  rel: string,
  folderSize: number | undefined,
  signal: AbortSignal | undefined,
  names: FolderNames | undefined,
  onStateFolder: ((name: string) => void) | undefined,
): Started {
  const tell = names && ((hashes: ToldNames): void => names.tell(rel, hashes));
  const chunks = listChunks(ops, root, rel, folderSize, signal, tell, onStateFolder);
  const first = chunks.next();
  first.catch(() => undefined); // awaited in its turn; never an unhandled rejection if the walk stops first
  // A FileOps that never tells (or a listing that failed) has told nothing by its first chunk.
  if (tell)
    void first.then(
      () => tell!(undefined),
      () => tell!(undefined),
    );
  return { chunks, first };
}

/** The started listing's chunks, the first one included. */
async function* resume(started: Started): AsyncGenerator<WalkChunk> {
  try {
    const first = await started.first;
    if (first.done) return;
    yield first.value;
    yield* started.chunks;
  } finally {
    // A walk stopped at the first chunk would otherwise leave the folder's listing (its handle) open.
    await started.chunks.return(undefined);
  }
}

/**
 * Walk root. A missing or unreadable root throws (fatal, with the Octopus docs' wording); a
 * sub-folder that cannot be read becomes an "error" entry and the walk carries on. The order is
 * the same as listing one folder after another; only the listings overlap (WALK_AHEAD). Once
 * `signal` is aborted, the walk stops with ListingInterrupted at its next batch (ListOptions.signal).
 */
export async function* walkTree(
  ops: FileOps,
  root: string,
  signal?: AbortSignal,
  names?: FolderNames,
  /** Told the name of each state folder at the root that the walk leaves out (isStateFolder). */
  onStateFolder?: (name: string) => void,
): AsyncGenerator<WalkChunk> {
  let rootSize: number;
  try {
    const s = await ops.stat(root);
    if (!s.isDirectory) throw Object.assign(new Error(`not a directory: ${root}`), { code: "ENOTDIR" });
    rootSize = s.size;
  } catch (error) {
    // No such folder, or a file: bad input, refused before anything is written (the target is made later).
    throw classifyFsError(error, { side: "source-root", path: root, missingIsBadInput: true });
  }
  // Folders to list, next on top, with their own sizes.
  const pending: { rel: string; size: number }[] = [{ rel: "", size: rootSize }];
  const ahead = new Map<string, Started>();
  const listAhead = (): void => {
    for (let i = pending.length - 1, n = 0; i >= 0 && n < WALK_AHEAD; i--, n++) {
      const { rel, size } = pending[i]!;
      if (!ahead.has(rel)) ahead.set(rel, start(ops, root, rel, size, signal, names, onStateFolder));
    }
  };
  try {
    while (pending.length > 0) {
      const { rel, size } = pending.pop()!;
      const started = ahead.get(rel) ?? start(ops, root, rel, size, signal, names, onStateFolder);
      ahead.delete(rel);
      const subdirs: { rel: string; size: number }[] = [];
      try {
        for await (const entries of resume(started)) {
          for (const entry of entries) if (entry.type === "dir") subdirs.push({ rel: entry.relPath, size: entry.size });
          yield entries;
        }
      } catch (error) {
        if (error instanceof ListingInterrupted) throw error; // stopped, not a folder that cannot be read
        if (rel === "") throw classifyFsError(error, { side: "source-root", path: root });
        const parentRel = path.posix.dirname(rel) === "." ? "" : path.posix.dirname(rel);
        yield [{ type: "error", relPath: rel, parentRel, name: path.posix.basename(rel), error }];
      }
      names?.forget(rel);
      // Reverse so pop() visits sub-folders in listing order.
      for (let i = subdirs.length - 1; i >= 0; i--) pending.push(subdirs[i]!);
      listAhead();
    }
  } finally {
    // The walk stopped early: listings started ahead close their folders once their chunk is in.
    for (const started of ahead.values()) void started.first.then(() => started.chunks.return(undefined)).catch(() => undefined);
  }
}

/** One directory's entries, a chunk at a time (one await per chunk, not per file). */
async function* listChunks(
  ops: FileOps,
  root: string,
  rel: string,
  folderSize: number | undefined,
  signal: AbortSignal | undefined,
  onNames: ((hashes: ToldNames) => void) | undefined,
  onStateFolder: ((name: string) => void) | undefined,
): AsyncGenerator<WalkChunk> {
  const abs = rel === "" ? root : root + path.sep + rel.split("/").join(path.sep);
  // A part's first chunk left empty here (only a state folder in it) hands its mark to the next one.
  let part: ListedPart | undefined;
  for await (const chunk of ops.list(abs, { folderSize, tree: root, signal, onNames })) {
    stopIfAborted(signal, abs);
    part = chunk.part ?? part;
    const out: WalkChunk = [];
    for (const d of chunk) {
      const name = d.name;
      const relPath = join(rel, name);
      if (isStateFolder(rel, name)) {
        // A folder: a copy's state (left out, warned). A file cannot be one: it is the user's, and fails.
        if (d.isFile) out.push({ type: "state-name", relPath, parentRel: rel, name });
        else onStateFolder?.(name);
        continue;
      }
      if (d.undecodable) {
        const error = Object.assign(new Error(`EILSEQ: a name that is not UTF-8, lstat '${abs}${path.sep}${name}'`), { code: "EILSEQ" });
        out.push({ type: "error", relPath, parentRel: rel, name, error });
      } else if (name.endsWith(TEMP_SUFFIX)) out.push({ type: "temp-name", relPath, parentRel: rel, name, isDirectory: d.isDirectory });
      else if (d.isFile)
        out.push({
          type: "file",
          relPath,
          parentRel: rel,
          name,
          size: d.size,
          mtimeMs: d.mtimeMs,
          atimeMs: d.atimeMs,
          caseUnique: d.caseUnique === true,
        });
      else if (d.isDirectory) out.push({ type: "dir", relPath, parentRel: rel, name, size: d.size });
      else out.push({ type: "other", relPath, parentRel: rel, name });
    }
    if (out.length === 0) continue;
    if (part) out.part = part;
    part = undefined;
    yield out;
  }
}
