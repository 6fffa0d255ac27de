/**
 * undrain: puts every node's drain flag and task cap back exactly as drain-nodes recorded them
 * (read from the run's facts, i.e. drain's checkpoint). Rollback drains them again as they were.
 */
import type { ServerNodes } from "../octopus/types.js";
import type { Step } from "../runner/step.js";
import { OctohaError } from "../shared/errors.js";
import { restoreNodes } from "./drain-nodes.js";
import type { NodeDrainState } from "./results.js";
import type { RunFacts } from "./facts.js";

export interface UndrainResult {
  /** Flags and caps just before undrain (what rollback restores). */
  before: NodeDrainState[];
  restored: NodeDrainState[];
}

export interface UndrainDeps {
  ports: { nodes: ServerNodes };
  facts: RunFacts;
}

export function createUndrainStep(deps: UndrainDeps): Step<UndrainResult, "undrain"> {
  const { nodes } = deps.ports;
  const recorded = (): NodeDrainState[] => {
    const drain = deps.facts.get("drain-nodes");
    if (!drain) {
      throw new OctohaError("Cannot undrain: this run has no record of the nodes' flags and task caps before the drain", {
        code: "UNDRAIN_NO_RECORD",
        step: "undrain",
        hint: "The drain-nodes step did not run in this run (or its journal is missing). Set each node's drain flag and task cap in Configuration ➜ Nodes.",
      });
    }
    return drain.before;
  };
  const snapshot = async (): Promise<NodeDrainState[]> =>
    (await nodes.list()).map((n) => ({ id: n.id, name: n.name, isDraining: n.isDraining, maxConcurrentTasks: n.maxConcurrentTasks }));

  return {
    id: "undrain",
    title: "Restore each node's drain flag and task cap",
    async inspect() {
      const current = await nodes.list();
      const target = deps.facts.get("drain-nodes")?.before;
      return {
        changes: current.map((n) => {
          const b = target?.find((x) => x.id === n.id);
          const after = b
            ? { isDraining: b.isDraining, maxConcurrentTasks: b.maxConcurrentTasks }
            : { isDraining: n.isDraining, maxConcurrentTasks: n.maxConcurrentTasks };
          return {
            action: "update" as const,
            target: `node ${n.name} drain flag and task cap`,
            before: "drained by this run",
            after,
            summary: `restore ${n.name}: drain ${after.isDraining}, task cap ${after.maxConcurrentTasks}`,
          };
        }),
        findings: [],
      };
    },
    async apply(ctx, last) {
      const restored = recorded();
      const before = last?.before ?? (await snapshot());
      if (!last) await ctx.checkpoint({ before, restored });
      await restoreNodes(nodes, restored);
      return { before, restored };
    },
    async verify(_ctx, r) {
      const current = await snapshot();
      const problems = r.restored.flatMap((b) => {
        const n = current.find((x) => x.id === b.id);
        if (!n) return [`${b.name} no longer exists`];
        return n.isDraining !== b.isDraining || n.maxConcurrentTasks !== b.maxConcurrentTasks
          ? [`${b.name}: drain ${n.isDraining} cap ${n.maxConcurrentTasks}, expected drain ${b.isDraining} cap ${b.maxConcurrentTasks}`]
          : [];
      });
      return {
        ok: problems.length === 0,
        summary: problems.length === 0 ? "every node's drain flag and task cap restored" : "nodes differ from the recorded state",
        problems,
      };
    },
    async rollback(_ctx, r) {
      await restoreNodes(nodes, r.before);
    },
  };
}
