/**
 * What each step records for the steps after it (and for a resumed run, which reads it back from
 * the journal: these shapes are what an earlier checkpoint holds). Keyed by step id in StepResults;
 * RunFacts (facts.ts) hands them out.
 */
import type { FolderKind } from "../model/folders.js";
import type { Finding } from "../model/preview.js";
import type { StepId } from "../model/step-ids.js";
import type { VerifyCopyResult } from "../model/copy-results.js";
import type { RestoreCheck } from "../octopus/sql/restore-compare.js";
import type { SchemaShape, ServiceState } from "../octopus/types.js";
import type { VersionFeatures } from "../octopus/versions.js";
import type { TargetCheck } from "./deps.js";

export interface NodeDrainState {
  id: string;
  name: string;
  isDraining: boolean;
  maxConcurrentTasks: number;
}

export interface DrainResult {
  phase: "recorded" | "draining" | "handles" | "done";
  /** Every node's flag and cap before this run touched them: undrain restores exactly these. */
  before: NodeDrainState[];
  /**
   * Maintenance mode at the same moment (maintenance-on records it as its before-state): a run
   * started beside another one, before either changed anything, must not take the other's
   * maintenance mode, switched on during its drain wait, for the operator's. Absent in journals
   * written before it was recorded here: maintenance-on reads the mode itself then.
   */
  maintenanceBefore?: boolean;
  drainDeadline?: number;
  handleDeadline?: number;
  cancelled?: string[];
}

export interface MaintenanceResult {
  before: boolean;
  after: boolean;
}

export interface PreflightResult {
  version: string;
  features: VersionFeatures;
  schema?: SchemaShape;
  kinds: FolderKind[];
  sqlEncrypted?: boolean;
  targets: { kind: FolderKind | "clusterShared"; access: string; check: TargetCheck }[];
  findings: Finding[];
  /** Octopus's nodes as the API listed them (absent when it could not be read). */
  nodes?: { name: string; isDraining: boolean; maxConcurrentTasks: number }[];
}

export interface DatabaseName {
  server: string;
  database: string;
}

export interface RepointResult {
  from: DatabaseName;
  to: DatabaseName;
  /** Every comparison made after the stop, passed or not (all passed, or the step would have stopped). */
  checks: RestoreCheck[];
  /** Each node's LastSeen in the target when compared (nodes stopped): verify-database wants it to advance. */
  heartbeatsBefore?: Record<string, string>;
  /** Per node: "writing" just before `database` runs there, "written" once it exited 0. */
  nodes: Record<string, "writing" | "written">;
}

export interface ServicesResult {
  before: Record<string, ServiceState>;
  /** Nodes this step acted on. */
  acted: string[];
  /** start-services: when every started node must answer by (ms since epoch), once the starts were sent. */
  readyDeadline?: number;
  /**
   * start-services: nodes stop-services stopped that were running again when the run came to start
   * them (started by someone during the window, perhaps before repath): stopped, then started with
   * the others, so that each reads the shared folders. `restartStopped`: they have been stopped.
   */
  restart?: string[];
  restartStopped?: boolean;
  /** start-services: false until every node it started answered (its apply finished); absent in an older octoha's journal. */
  answered?: boolean;
}

/** assess-repair: whether this repair needs the outage, and the first reason found either way. */
export interface AssessRepairResult {
  needed: boolean;
  reason: string;
}

export interface StepResults {
  preflight: PreflightResult;
  "assess-repair": AssessRepairResult;
  "drain-nodes": DrainResult;
  "maintenance-on": MaintenanceResult;
  "stop-services": ServicesResult;
  "repoint-database": RepointResult;
  "start-services": ServicesResult;
  "verify-copy": VerifyCopyResult;
}

export type FactKey = keyof StepResults & StepId;
