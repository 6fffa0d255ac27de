/**
 * The dry-run report as a value (versioned JSON). Collected from the steps' inspect() previews;
 * rendered as Markdown, HTML or JSON. Everything in it has been through the redactor.
 */
import { formatBytes as formatKnownBytes } from "./format.js";
import type { Change, Finding } from "../model/preview.js";
import type { CollisionTotals, ReportCollision } from "./bounded.js";

export const DRY_RUN_FORMAT_VERSION = 1;

export interface StepPreviewReport {
  id: string;
  title: string;
  requiresApproval: boolean;
  changes: Change[];
  findings: Finding[];
  /** Set when inspect itself failed: the step could not be previewed. */
  error?: string;
}

export interface CopyVolume {
  kind: string;
  node: string;
  files: number;
  bytes: number;
  filesAlreadyThere: number;
  /** Of files: earlier copies by the same node (a preseed's) replaced by newer bytes (run reports). */
  filesUpdated?: number;
}

export interface DryRunReport {
  format: "octoha-dry-run";
  formatVersion: typeof DRY_RUN_FORMAT_VERSION;
  generatedAt: string;
  workflow: string;
  planFile: string;
  octopusVersion?: string;
  /** Octopus's nodes with their drain flag and task cap, as preflight read them (absent when it could not). */
  nodes?: { name: string; isDraining: boolean; maxConcurrentTasks: number }[];
  kinds: string[];
  /** Every finding of every step, errors first. */
  findings: (Finding & { step: string })[];
  steps: StepPreviewReport[];
  /** The exact command repath would run (Windows-quoted), when folders change. */
  pathCommand?: string;
  /** The first collisions (REPORT_COLLISION_ROWS at most); collisionTotals counts them all. */
  collisions: ReportCollision[];
  /** Absent in reports (change sets) written before it existed: their collisions list every one. */
  collisionTotals?: CollisionTotals;
  copy: CopyVolume[];
  freeSpace: { kind: string; path: string; freeBytes?: number; bytesNeeded: number; enough?: boolean }[];
  estimate: WindowEstimate;
  /**
   * Something would change for good (for --detailed-exitcode): files to copy, folders to create,
   * server folders to repath. The window's own drain/maintenance/stop/start are restored by the
   * run itself, so they alone do not count.
   */
  wouldChange: boolean;
  /** Error-level findings: a real run would stop at preflight or before the restart. */
  blocked: boolean;
}

export interface WindowEstimate {
  /** Bytes per second from a measured read sample; absent when the engine could not measure. */
  rateBytesPerSecond?: number;
  copySeconds?: number;
  /** Upper bound of the drain wait: the plan's timeout when tasks run now, else 0. */
  drainWaitSeconds: number;
  logHandleWaitSeconds: number;
  totalSeconds?: number;
  basis: string;
}

export function formatBytes(n: number | undefined): string {
  return n === undefined ? "unknown" : formatKnownBytes(n);
}

export function formatSeconds(s: number | undefined): string {
  if (s === undefined) return "unknown";
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}
