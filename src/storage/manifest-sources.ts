/**
 * Which source folders a manifest's records came from, told apart by more than their identity.
 *
 * A source's identity (source-identity.ts: canonical path, machine, device and file number) is in
 * every record's origin, so it cannot change without every earlier record turning foreign. But it
 * does not always tell two folders apart. These get the same numbers as the first folder mounted at
 * the same path:
 * - a fresh tmpfs;
 * - a loop device reused after a detach;
 * - two nodes' shares mounted in turn with `noserverino`.
 * The second folder was then taken for the first, and its grown or same-size files replaced the
 * first node's copies.
 *
 * So beside the manifest, `<manifest>.sources` keeps each identity's folder birth time (when the
 * file system keeps one). A folder with a recorded identity but another birth time is another
 * folder: it gets an identity of its own, the first's with its birth time appended. That keeps the
 * same derived identity on every later run, and gives its files origins of their own, so they are
 * compared and never taken for the first folder's. A folder whose file system keeps no birth time
 * is identified as before. The file is a cache of facts, read before the copy and written (under
 * the target's lock, atomically) before the manifest's next line. One that cannot be read is
 * rebuilt from this run's facts.
 */
import { createHash } from "node:crypto";
import type { FileOps } from "./file-ops.js";
import { readSmallFile, replaceSmallFile } from "./temp-names.js";

const FORMAT = 1;

interface SourcesFile {
  v: typeof FORMAT;
  /** By identity hash (hashOf): the folder's birth time in ms. */
  sources: Record<string, { born: number }>;
}

/** A source folder as this copy identifies it: its identity and, when the file system keeps one, its birth time. */
export interface SourceFacts {
  id: string;
  born: number | undefined;
}

export function manifestSourcesFile(manifestFile: string): string {
  return `${manifestFile}.sources`;
}

const hashOf = (id: string): string => createHash("sha256").update(id).digest("hex").slice(0, 16);

async function readSources(ops: FileOps, file: string): Promise<SourcesFile["sources"]> {
  try {
    const parsed = JSON.parse((await readSmallFile(ops, file, 1024 * 1024)) ?? "{}") as Partial<SourcesFile>;
    return parsed.v === FORMAT && parsed.sources && typeof parsed.sources === "object" ? parsed.sources : {};
  } catch {
    return {}; // unreadable or not ours: rebuilt from this run's facts
  }
}

/**
 * The identity this copy's records carry for `facts`: the identity itself, or, when the manifest
 * knows that identity from a folder born at another time, the identity with this folder's birth
 * time. `recorded`: the file already holds it (nothing to write).
 */
export async function sourceIdUnder(ops: FileOps, manifestFile: string, facts: SourceFacts): Promise<{ id: string; recorded: boolean }> {
  if (facts.born === undefined) return { id: facts.id, recorded: true };
  const sources = await readSources(ops, manifestSourcesFile(manifestFile));
  const known = sources[hashOf(facts.id)];
  // A birth time is exact for one folder; a whole millisecond of slack covers its rounding.
  const id = known === undefined || Math.abs(known.born - facts.born) < 1 ? facts.id : `${facts.id}|born:${Math.round(facts.born)}`;
  return { id, recorded: sources[hashOf(id)] !== undefined };
}

/** Records the source this copy used (its identity as sourceIdUnder gave it, and its birth time). */
export async function recordSource(ops: FileOps, manifestFile: string, id: string, born: number | undefined): Promise<void> {
  if (born === undefined) return;
  const file = manifestSourcesFile(manifestFile);
  const sources = await readSources(ops, file);
  const key = hashOf(id);
  if (sources[key] !== undefined) return;
  sources[key] = { born };
  await replaceSmallFile(ops, file, `${JSON.stringify({ v: FORMAT, sources } satisfies SourcesFile)}\n`);
}
