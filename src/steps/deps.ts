/**
 * What steps are built from: the Octopus ports they need, the copy engine, a clock, and the
 * options derived from the plan and command-line flags. Steps take these explicitly; nothing global.
 */
import type { CopyOptions, CopySummary } from "../storage/types.js";
import type { UndoCopiesOptions, UndoCopiesResult } from "../storage/run-copies.js";

/** What the steps need from the copy engine (src/storage implements it). */
export interface CopyEngine {
  copyTree(options: CopyOptions): Promise<CopySummary>;
  /** Free space and writability of a target, checked before the first byte. `dryRun` must not write (no probe file). */
  preflightTarget(options: { target: string; bytesNeeded?: number; dryRun?: boolean }): Promise<TargetCheck>;
  /** Bytes per second measured on a short read sample of `source`, when the engine can measure it. */
  measureRate?(options: { source: string; signal?: AbortSignal }): Promise<number | undefined>;
  /** Files and bytes under a node folder (streamed walk, read-only): the most a copy from it can need. */
  sourceTotals?(options: { source: string; signal?: AbortSignal }): Promise<{ files: number; bytes: number }>;
  /** A copy step's rollback at one target: stale temp files removed, the step's copies removed or counted. */
  undoCopies?(options: UndoCopiesOptions): Promise<UndoCopiesResult>;
}

/** A target that does not exist yet is judged by its nearest existing parent (where provision-storage will create it). */
export interface TargetCheck {
  exists: boolean;
  /** Undefined when it cannot be known (e.g. the folder does not exist yet). */
  freeBytes?: number;
  /** Undefined in dry-run: proving writability needs a probe file. */
  writable?: boolean;
  /** Why the target is not usable, with the fix. */
  problem?: string;
}

export { realClock, type Clock } from "../shared/clock.js";

/** Command-line flags that change step behaviour. */
export interface StepFlags {
  /** --cancel-tasks: cancel tasks still running when the drain wait ends. */
  cancelTasks: boolean;
  /** --verify-all: read every task log through every node, not a sample. */
  verifyAll: boolean;
  /** rollback --remove-copies: a copy step's rollback removes the files it copied (see storage/run-copies.ts). */
  removeCopies: boolean;
  /** --concurrency: parallel file copies (overrides the plan's options.concurrency). */
  concurrency?: number;
  /** repair --full: take the whole outage even when assess-repair finds nothing to repair. */
  full?: boolean;
}

export function stepFlags(flags: Record<string, boolean | string | undefined>): StepFlags {
  const on = (name: string) => flags[name] === true;
  const out: StepFlags = { cancelTasks: on("cancelTasks"), verifyAll: on("verifyAll"), removeCopies: on("removeCopies"), full: on("full") };
  const concurrency = Number(flags["concurrency"]);
  if (typeof flags["concurrency"] === "string" && Number.isInteger(concurrency)) out.concurrency = concurrency;
  return out;
}
