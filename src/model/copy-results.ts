/**
 * What a copy and its verification produced: the results the copy steps journal and the run and
 * dry-run reports read. Plain data, JSON-safe.
 */
import type { FolderKind } from "./folders.js";

export type CollisionKind = "different-bytes" | "case-only" | "file-vs-folder";

export interface Collision {
  kind: CollisionKind;
  /** Path relative to the copy root, with '/' separators. */
  relPath: string;
  /** The name already at the target (differs from relPath in case for case-only collisions). */
  targetRelPath: string;
  sourceNode?: string;
  /** Node whose copy the incoming one met, when known (dry-run across nodes: an earlier node's file). */
  targetNode?: string;
  /** Which copy stayed at the target: the incoming one or the one already there. */
  winner: "source" | "target";
  /** Where the losing copy went (absolute access path); never dropped. */
  quarantinedAt?: string;
  reason: string;
}

/** A problem found before copying: a name Windows cannot hold, a path over 260 characters. */
export interface NameProblem {
  relPath: string;
  problem: "invalid-windows-name" | "path-too-long";
  detail: string;
}

/** A file that failed with a count-and-continue error (e.g. unreadable source), with the fix. */
export interface CopyError {
  relPath: string;
  code: string;
  message: string;
}

/** Progress of one copy, as the engine reports it while it works. */
export interface CopyProgress {
  filesDone: number;
  filesTotal: number;
  bytesDone: number;
  bytesTotal: number;
  /** Bytes per second, smoothed. */
  rate: number;
  /** Files per second, smoothed. */
  filesRate: number;
  /** The round-trip time of one call to the target (ms) as the engine sees it; absent until a call was timed. */
  roundTripMs?: number;
  /** Seconds left, or undefined while unknown. */
  etaSeconds?: number;
  /**
   * "planning": the copy is still looking at what the source and the target hold (a dry-run does
   * nothing else). filesDone and bytesDone are the files looked at so far, the totals are not known
   * yet (0), and filesToCopy and bytesToCopy are what was found missing or different so far.
   */
  phase?: "planning";
  filesToCopy?: number;
  bytesToCopy?: number;
}

/** What one copy (copyTree) did: the `copy` verb prints it, a copy step journals it per job. */
export interface CopySummary {
  filesCopied: number;
  bytesCopied: number;
  /** Already at the target with equal size, mtime (and hash). */
  filesSkipped: number;
  bytesSkipped: number;
  /** The first 1000 collisions (memory stays bounded at a million files); onCollision sees every one. */
  collisions: Collision[];
  /** Collisions beyond the listed ones, counted only. */
  collisionsOmitted?: number;
  /** Every collision, counted by kind (listed or not). */
  collisionsByKind?: Partial<Record<CollisionKind, number>>;
  nameProblems: NameProblem[];
  /** Files that failed with a count-and-continue error (e.g. unreadable source), with the fix. */
  errors: CopyError[];
  durationMs: number;
  /** Losing copies written to (or, in dry-run, that would go to) the quarantine folder. */
  filesQuarantined?: number;
  /**
   * Dry-run: of filesQuarantined, the losing copies no earlier run has quarantined yet (a run would
   * write them). A repair run again finds its earlier quarantined copies and counts none.
   */
  quarantinesPending?: number;
  /**
   * Of filesCopied: targets that were this node's own earlier copy (per the manifest) of a file that
   * changed since, replaced by the newer bytes; not collisions, nothing quarantined.
   */
  filesUpdated?: number;
  /** Work found by the planning pass (files not already at the target), the progress totals. */
  filesPlanned?: number;
  bytesPlanned?: number;
  /** Name problems beyond the first 1000, counted but not listed. */
  nameProblemsOmitted?: number;
  /** True when stopped by the signal before finishing. */
  interrupted: boolean;
  /** Things the operator should know that are not problems with a file (e.g. a dead copy's lock taken over). */
  warnings?: string[];
}

/** A copy that has done nothing yet: what copyTree starts from. */
export function emptyCopySummary(): CopySummary {
  return {
    filesCopied: 0,
    bytesCopied: 0,
    filesSkipped: 0,
    bytesSkipped: 0,
    filesQuarantined: 0,
    collisions: [],
    nameProblems: [],
    errors: [],
    durationMs: 0,
    interrupted: false,
  };
}

export interface CopyJobResult {
  kind: FolderKind;
  node: string;
  filesCopied: number;
  bytesCopied: number;
  filesSkipped: number;
  bytesSkipped: number;
  /** Of filesCopied: this node's own earlier copies (a preseed's) replaced by the file's newer bytes. */
  filesUpdated?: number;
  /** The first collisions (the engine lists 1000); the rest are counted in collisionsOmitted. */
  collisions: Collision[];
  collisionsOmitted?: number;
  /** Every collision counted by kind, listed or not (absent in results journaled before it existed). */
  collisionsByKind?: Partial<Record<CollisionKind, number>>;
  nameProblems: NameProblem[];
  /** Name problems beyond the listed ones. */
  nameProblemsOmitted?: number;
  errors: CopyError[];
}

export interface CopyResult {
  /** Jobs finished, keyed "kind:node"; a resumed run skips none (the engine skips verified files). */
  jobs: CopyJobResult[];
}

export interface VerifyCopyResult {
  tasksChecked: number;
  packagesChecked: number;
  /** Completed tasks whose log is on a node but not on shared storage (the first VERIFY_LIST_LIMIT). */
  logsNotCopied: string[];
  /**
   * Completed tasks whose log exists on no node and not on shared storage (the first
   * VERIFY_LIST_LIMIT; verify-octopus finds the others again from the folders to skip them).
   */
  logsNowhere: string[];
  /** Indexed packages with no file under the shared Packages folder ("PackageId version"; the first VERIFY_LIST_LIMIT). */
  packagesMissing: string[];
  /** How many of each there are in all, listed or not (absent in results journaled before they existed: the lists are whole). */
  logsNotCopiedTotal?: number;
  logsNowhereTotal?: number;
  packagesMissingTotal?: number;
}

/**
 * One line of a dry-run's full list (`--full-list FILE`, JSON Lines): everything the report only
 * counts beyond its first rows. `step` says which step's preview found it.
 */
export type FullListRecord =
  | ({ list: "collision"; step: string; folder: string; node: string } & Collision)
  | { list: "task-log-nowhere" | "package-on-no-node"; step: string; name: string };

/** Receives full-list records as a dry-run finds them (nothing is held in memory). */
export type FullListSink = (record: FullListRecord) => void;

/** Names a verify-copy result lists per problem: a million missing logs are counted, not journaled one by one. */
export const VERIFY_LIST_LIMIT = 1000;

/** How many collisions a job result stands for (listed + omitted). */
export function collisionCount(j: Pick<CopyJobResult, "collisions" | "collisionsOmitted">): number {
  return j.collisions.length + (j.collisionsOmitted ?? 0);
}
