/**
 * SHIM — delete at merge. Stands in for src/runner/run-workflow.ts (the runner, built on another
 * branch) with the agreed signature, so the `repair` verb compiles here. At merge: delete this
 * file and import runWorkflow from "../../runner/run-workflow.js" in src/cli/commands/repair.ts.
 */
import type { WorkflowName } from "./workflows.js";
import { OctohaError } from "../shared/errors.js";

export interface RunWorkflowOptions {
  workflow: WorkflowName;
  planFile: string;
  flags: Record<string, boolean | string | undefined>;
  approve: boolean;
  json: boolean;
  signal: AbortSignal;
}

export async function runWorkflow(_options: RunWorkflowOptions): Promise<{ exitCode: number }> {
  throw new OctohaError("The runner is not available in this build", { code: "RUNNER_NOT_AVAILABLE", hint: "This build of octoha was made without src/runner/run-workflow.ts. Use a release build." });
}
