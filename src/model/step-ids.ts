/** Every step and workflow id octoha knows: closed sets, so a typo is a compile error, never a run-time lookup miss. */
import type { FolderKind } from "./folders.js";

export const STEP_IDS = [
  "preflight",
  "provision-storage",
  "assess-repair",
  "preseed",
  "drain-nodes",
  "maintenance-on",
  "stop-services",
  "repoint-database",
  "copy-task-logs",
  "copy-artifacts",
  "copy-packages",
  "copy-imports",
  "copy-event-exports",
  "verify-copy",
  "repath",
  "start-services",
  "verify-database",
  "verify-octopus",
  "maintenance-off",
  "undrain",
] as const;

export type StepId = (typeof STEP_IDS)[number];

export const COPY_STEP_IDS = {
  taskLogs: "copy-task-logs",
  artifacts: "copy-artifacts",
  packages: "copy-packages",
  imports: "copy-imports",
  eventExports: "copy-event-exports",
} as const satisfies Record<FolderKind, StepId>;

/** The workflows a verb runs (src/steps builds their steps, src/operations runs them). */
export const WORKFLOW_NAMES = ["migrate", "preseed", "repair", "join"] as const;

export type WorkflowName = (typeof WORKFLOW_NAMES)[number];
