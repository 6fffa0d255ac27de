/**
 * The workflow table: which workflow a verb runs, by name. A plain map, passed down (tests hand
 * the operations a table of their own); nothing registers into it at start-up.
 */
import type { WorkflowName } from "../model/step-ids.js";
import { createWorkflow, type WorkflowFactory } from "../steps/workflows.js";
import { createJoinWorkflow } from "../steps/join-workflow.js";

export type WorkflowTable = Readonly<Partial<Record<WorkflowName, WorkflowFactory>>>;

export const octopusWorkflows: WorkflowTable = {
  migrate: (env) => createWorkflow("migrate", env),
  preseed: (env) => createWorkflow("preseed", env),
  repair: (env) => createWorkflow("repair", env),
  join: (env) => createJoinWorkflow(env),
};
