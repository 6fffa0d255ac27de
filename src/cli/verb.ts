import type { Command } from "commander";
import type { WorkflowTable } from "../operations/workflows.js";

/** What verbs are given: the workflow table to run (default, when absent: the Octopus workflows). */
export interface VerbContext {
  workflows?: WorkflowTable;
}

/** A verb's registration (src/cli/commands/<verb>.ts): adds its command to the program. */
export type RegisterVerb = (program: Command, context: VerbContext) => void;
