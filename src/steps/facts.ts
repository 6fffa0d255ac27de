/**
 * Run-scoped facts: how a later step reads what an earlier step recorded (undrain needs drain's
 * before-state, maintenance-off needs maintenance-on's, repath's rollback needs to know whether
 * nodes were started). Keys are step ids, values are that step's typed result.
 *
 * Memory alone is not enough: after a crash, a resumed run does not re-apply finished steps. So a
 * RunFacts falls back to `priorResult`, which operations/apply.ts backs with the journal (the last
 * checkpoint each step saved). Steps always set their result when apply finishes.
 */
import type { FactKey, StepResults } from "./results.js";

export interface RunFacts {
  get<K extends FactKey>(stepId: K): StepResults[K] | undefined;
  set<K extends FactKey>(stepId: K, result: StepResults[K]): void;
}

/** A journal reader: the last checkpoint a step of this run saved, or undefined. */
export type PriorResultLookup = (stepId: string) => unknown;

export function createRunFacts(priorResult?: PriorResultLookup): RunFacts {
  const memory = new Map<FactKey, unknown>();
  return {
    get<K extends FactKey>(stepId: K) {
      const value = memory.has(stepId) ? memory.get(stepId) : priorResult?.(stepId);
      return (value ?? undefined) as StepResults[K] | undefined;
    },
    set(stepId, result) {
      memory.set(stepId, result);
    },
  };
}
