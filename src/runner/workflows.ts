/**
 * What a workflow is to the runner: its steps, how to release it, and what it does after a rollback.
 * The runner knows nothing about Octopus: src/steps builds the Octopus workflows and
 * src/operations/workflows.ts names them; tests hand their own table to the operations.
 */
import type { FullListSink } from "../model/copy-results.js";
import type { Plan } from "../plan/schema.js";
import type { Redactor } from "../shared/redact.js";
import type { Step, StepContext } from "./step.js";

export type WorkflowName = "migrate" | "preseed" | "repair" | "join";

export interface WorkflowEnv {
  plan: Plan;
  planFile: string;
  stateDir: string;
  redactor: Redactor;
  /** Flags from the command line that steps honour (e.g. --cancel-tasks, --verify-all). */
  flags: Record<string, boolean | string | undefined>;
  /**
   * The last checkpoint an earlier step of this run saved (from the journal), so a later step can
   * read an earlier step's result after a resume (e.g. undrain reads drain-nodes' before-state).
   * Optional, additive: absent on a fresh run.
   */
  priorResult?: (stepId: string) => unknown;
  /** The run's abort signal (Ctrl-C): adapters abort requests in flight with it. */
  signal?: AbortSignal;
  /** Dry-run `--full-list`: steps hand it every collision and missing log their previews find. */
  fullList?: FullListSink;
}

export interface Workflow {
  steps: Step[];
  /** Releases connections (SQL pool, HTTP agents). */
  close(): Promise<void>;
  /**
   * After a rollback: work on steps an earlier rollback of the run already undid (e.g. removing
   * the copies that rollback left, when asked with --remove-copies). Optional.
   */
  afterRollback?(a: AfterRollback): Promise<void>;
}

export interface AfterRollback {
  runId: string;
  /** Steps undone by an earlier rollback of this run, not by the one that just ran. */
  undoneEarlier: readonly string[];
  /** What such a step recorded last (its result, else its last checkpoint). */
  recorded(stepId: string): unknown;
  /** A context for running such a step's code; its events go to the run's view. */
  context(stepId: string): StepContext;
}

export type WorkflowFactory = (env: WorkflowEnv) => Promise<Workflow>;
