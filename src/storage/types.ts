import type { Collision, CopyProgress, CopySummary } from "../model/copy-results.js";
import type { TargetReservations } from "./reservations.js";
import type { LockOwner } from "./target-lock.js";

/**
 * The copy engine's public contract (design.md, "Copy engine"). Steps and the `copy` verb use
 * copyTree(); the engine's own file-system calls go through FileOps so tests can inject faults.
 * What it reports (CopySummary, CopyProgress) lives in src/model, where the reports read it.
 */
export type { CopyProgress, CopySummary };

export type VerifyMode = "none" | "size" | "sha256";

/** What to do when the target already holds something different under the same (case-folded) name. */
export type CollisionPolicy =
  /** Keep what is at the target; quarantine the incoming copy under .octoha/conflicts/<node>/. */
  | "keep-target"
  /** Keep the newer file (by mtime) at the target, quarantine the other. */
  | "keep-newer"
  /** Stop the step and report. */
  | "fail";

/** Which node ran a task, so a task-log collision keeps that node's copy (repair). */
export type TaskLogOwner = (relPath: string) => string | undefined;

export interface CopyOptions {
  /** Source folder as this process reaches it. */
  source: string;
  /** Target folder as this process reaches it. */
  target: string;
  /**
   * Label of the source: its quarantine folder's name and how reports name it (a plan's node name).
   * Never proof of anything: whether a target was written from this source is decided by the
   * source folder's identity recorded in the manifest. Default `source-<8 hex of that identity>`.
   */
  sourceNode?: string;
  /** Recorded with every file this copy writes (`<runId>/<stepId>`), so a rollback can find them. */
  runTag?: string;
  /** How the target path will look to Octopus (Windows path), for name/length checks. */
  targetAsOctopusSeesIt?: string;
  /** Parallel file copies. */
  concurrency?: number;
  verify?: VerifyMode;
  collisionPolicy?: CollisionPolicy;
  /** Root for quarantined copies; default <target>/.octoha/conflicts. */
  quarantineDir?: string;
  /** Manifest file (JSONL, group-committed, fsync'd). */
  manifestPath?: string;
  /** Inspect only: compute what would be copied, write nothing. */
  dryRun?: boolean;
  /**
   * Dry-run of several sources into one target: pass the same instance for each source, in the
   * order the run copies them. Each dry-run meets what the earlier ones would have copied (so
   * collisions between nodes are predicted) and records its own additions when it finishes.
   * Ignored by a real copy.
   */
  reservations?: TargetReservations;
  signal?: AbortSignal;
  onProgress?: (p: CopyProgress) => void;
  /** Every collision as it is decided (for a full list on disk): the summary lists only the first 1000. */
  onCollision?: (c: Collision) => void;
  taskLogOwner?: TaskLogOwner;
  /**
   * Who holds the target's lock while this copy writes (a run's id and step); default a copy id of
   * its own. A copy that writes takes the lock; a dry-run and a copy with nothing to do do not.
   */
  lockOwner?: LockOwner;
}

/**
 * One line of the manifest (format v2; v1 lines lack src, run and replaced): a file at the target
 * and the bytes octoha verified there.
 */
export interface ManifestRecord {
  v: 1 | 2;
  /** Path relative to the target root, with '/'. */
  relPath: string;
  size: number;
  /** Modification time in ms. */
  mtimeMs: number;
  sha256?: string;
  /** Label of the source (the node name): reports and people only, never proof of anything. */
  node?: string;
  /**
   * Which source file this copy wrote the target from: originOf(source folder identity, source
   * relPath). Absent when the copy did not write the bytes (found identical ones already there).
   */
  src?: string;
  /**
   * The origin (as `src`) of the source file whose bytes this target file was found equal to, both
   * hashed: octoha did not write it, so it is never replaced as "our own", but that source file's
   * next no-op may skip it on size and mtime. Another source's file of the same size and mtime
   * proves nothing and is hashed.
   */
  same?: string;
  /** The run and step whose copy wrote the bytes (`<runId>/<stepId>`), so a rollback can remove them. */
  run?: string;
  /** True when the write replaced a file already under this name (an earlier copy, or a quarantined loser). */
  replaced?: true;
  /**
   * A write-ahead record, no sha256: "open" = this copy is about to create relPath (size and mtime
   * are the source's), durable before the name is created; "withdrawn" = it did not create it (the
   * name was taken) or removed what it created. A later record with a sha256 closes an intent.
   */
  intent?: "open" | "withdrawn";
}
