/**
 * The target folder of a source folder walked a part at a time (name-spill.ts): its names are read
 * once (no lstat) and spilled by the same buckets, and each part's index is built from its own
 * buckets, lstat'ing only the names the part's source names can meet (TargetDirIndex.load's
 * `only`). A no-op of a million task logs then indexes a part's ~65,000 names, not a million.
 */
import { stopIfAborted, type FileOps, type ListedPart } from "./file-ops.js";
import { BUCKETS, NameSpill, type SpilledPart } from "./name-spill.js";
import { TargetDirIndex, type LoadOptions } from "./target-index.js";

/** Names handed to the listing at a time (its chunk: the lstat thread's trial counts full ones). */
const NAMES_A_BATCH = 256;

/** A target folder's names by bucket, and where the folder is. */
export interface SpilledTarget {
  names: NameSpill;
  absDir: string;
  relDir: string;
}

/**
 * The folder's names spilled by bucket (a missing folder has none), or undefined where they cannot
 * be: a FileOps without nameStream, no scratch file, a full temp folder. The caller then lists the
 * folder whole, as before.
 */
export async function spillTarget(
  ops: FileOps,
  absDir: string,
  relDir: string,
  folderSize: number | undefined,
  signal: AbortSignal | undefined,
): Promise<SpilledTarget | undefined> {
  if (!ops.nameStream) return undefined;
  const names = await NameSpill.open();
  if (!names) return undefined;
  try {
    for await (const batch of ops.nameStream(absDir, { folderSize })) {
      stopIfAborted(signal, absDir);
      await names.addAll(batch);
    }
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code !== "ENOENT" && code !== "ENOTDIR") {
      await names.close();
      throw error;
    }
  }
  await names.finish();
  if (!names.broken) return { names, absDir, relDir };
  await names.close();
  return undefined;
}

/**
 * The index of the target's names in `part`'s buckets that its source names can meet (and our temp
 * files there, collected in staleTemps as a whole listing collects them); without a part, of all of
 * them (a spilled source held whole after all: its temp folder filled up).
 */
export async function partIndex(
  ops: FileOps,
  target: SpilledTarget,
  part: ListedPart | undefined,
  staleTemps: string[],
  options: Omit<LoadOptions, "only" | "names" | "folderSize">,
): Promise<TargetDirIndex> {
  const names = await target.names.read(part?.lo ?? 0, part?.hi ?? BUCKETS);
  return TargetDirIndex.load(ops, target.absDir, target.relDir, staleTemps, { ...options, only: part?.hashes, names: batchesOf(names) });
}

/** The part's names, decoded a batch at a time as the listing asks for them. */
function* batchesOf(names: SpilledPart): Generator<string[]> {
  for (let i = 0; i < names.length; i += NAMES_A_BATCH) yield names.names(i, i + NAMES_A_BATCH);
}
