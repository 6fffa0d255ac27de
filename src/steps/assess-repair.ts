/**
 * assess-repair: a repair of a cluster that needs none takes no outage. An administrator runs
 * `octoha repair` again to be sure; before this step that drained every node, switched maintenance
 * mode on, stopped and restarted every node, and found nothing to do.
 *
 * Read-only, after provision-storage. When Octopus's folder settings already name the shared folders (repath would
 * change nothing) and every file on the nodes' own disks is already there (no copy step would write
 * a file, and every losing copy is already in quarantine), the steps that drain, stop, re-point,
 * copy, start and restore change nothing in this run and ask no approval; verify-copy and
 * verify-octopus still prove, read-only, that every log opens through every node. `--full` takes
 * the whole outage anyway: a node started before its folders were changed keeps using its own disk
 * until it restarts, and only verify-octopus would notice.
 */
import type { Change, Finding, Preview } from "../model/preview.js";
import type { StepId } from "../model/step-ids.js";
import type { Step, StepContext } from "../runner/step.js";
import type { RunFacts } from "./facts.js";
import type { AssessRepairResult } from "./results.js";
import type { PendingCopyWork } from "./copy.js";

export interface AssessRepairDeps {
  facts: RunFacts;
  /** repath: the nodes use the shared folders when its preview changes nothing. */
  repath: Pick<Step, "inspect">;
  /** Each copy step: why a run of it would write something, and what no outage changes. */
  copies: readonly { pendingWork(ctx: StepContext): Promise<PendingCopyWork> }[];
  /** Why this repair takes the whole outage whatever the cluster looks like (--full, a database move). */
  forced?: string | undefined;
}

export type AssessRepairStep = Step<AssessRepairResult, "assess-repair"> & {
  /** What this run found (this process's assessment, else the journal's), once the step has run or been inspected. */
  assessed(): AssessRepairResult | undefined;
};

const NOTHING_LEFT =
  "Octopus's folder settings already name the shared folders, and every file on the nodes' own disks is already there or in quarantine";
const FULL_HINT =
  "The settings are what octoha can read: a node started before they were changed still uses its own disk until it restarts. To drain, stop and restart every node anyway, run the repair with --full.";

/** First reason found that the cluster needs the repair, cheapest first (a first repair never lists a file here). */
async function assess(deps: AssessRepairDeps, ctx: StepContext): Promise<AssessRepairResult> {
  if (deps.forced !== undefined) return { needed: true, reason: deps.forced };
  const repath = await deps.repath.inspect(ctx);
  const refused = repath.findings.find((f) => f.severity === "error");
  if (refused) return { needed: true, reason: `repath: ${refused.summary}` };
  const change = repath.changes.find((c) => c.action !== "noop");
  if (change) return { needed: true, reason: `Octopus's folder settings do not name the shared folders yet (${change.summary})` };
  const notes: string[] = [];
  for (const copy of deps.copies) {
    const pending = await copy.pendingWork(ctx);
    notes.push(...pending.notes);
    if (pending.work !== undefined) return { needed: true, reason: pending.work };
  }
  return { needed: false, reason: notes.length ? `${NOTHING_LEFT}, except what no outage changes: ${notes.join("; ")}` : NOTHING_LEFT };
}

function finding(r: AssessRepairResult): Finding {
  return r.needed
    ? { severity: "info", code: "REPAIR_NEEDED", summary: `Repair needed: ${r.reason}` }
    : {
        severity: "info",
        code: "NOTHING_TO_REPAIR",
        summary: `Nothing to repair: ${r.reason}. A run drains, stops and restarts no node, and only verifies.`,
        fix: FULL_HINT,
      };
}

export function createAssessRepairStep(deps: AssessRepairDeps): AssessRepairStep {
  let found: AssessRepairResult | undefined;
  return {
    id: "assess-repair",
    title: "Is there anything to repair? (the nodes' folders and files)",
    readOnly: true,
    assessed: () => found ?? deps.facts.get("assess-repair"),
    async inspect(ctx): Promise<Preview> {
      found = await assess(deps, ctx);
      return { changes: [], findings: [finding(found)], facts: { ...found } };
    },
    async apply(ctx) {
      const r = await assess(deps, ctx);
      await ctx.checkpoint(r);
      found = r;
      deps.facts.set("assess-repair", r);
      if (!r.needed) ctx.emit({ level: "info", message: `nothing to repair: ${r.reason}. ${FULL_HINT}` });
      return r;
    },
    async verify(_ctx, r) {
      return {
        ok: true,
        summary: r.needed ? `repair needed: ${r.reason}` : `nothing to repair: ${r.reason}; no node is drained, stopped or restarted`,
      };
    },
    async rollback() {
      // Read-only.
    },
  };
}

/** What a step records in a run that needed no repair: it did nothing, and why. */
export interface NothingToRepair {
  nothingToRepair: string;
}

function isNothingToRepair(r: unknown): r is NothingToRepair {
  return typeof r === "object" && r !== null && typeof (r as Partial<NothingToRepair>).nothingToRepair === "string";
}

/**
 * `step` as it runs in a repair: unchanged when the repair is needed (or not assessed yet); when
 * assess-repair found nothing to repair, it changes nothing, asks no approval, records why, and its
 * rollback has nothing to undo.
 */
export function unlessNothingToRepair<C, Id extends StepId>(
  step: Step<C, Id>,
  assessed: () => AssessRepairResult | undefined,
): Step<C | NothingToRepair, Id> {
  const skipped = (): string | undefined => {
    const a = assessed();
    return a && !a.needed ? a.reason : undefined;
  };
  const refusal = step.rollbackRefusal?.bind(step);
  return {
    id: step.id,
    title: step.title,
    ...(step.requiresApproval !== undefined ? { requiresApproval: step.requiresApproval } : {}),
    ...(step.readOnly !== undefined ? { readOnly: step.readOnly } : {}),
    ...(step.policy !== undefined ? { policy: step.policy } : {}),
    skippedBecause: skipped,
    changedNothing: (result) => isNothingToRepair(result) || (step.changedNothing?.(result) ?? false),
    async inspect(ctx) {
      const why = skipped();
      if (why === undefined) return step.inspect(ctx);
      const nothing: Change[] = [];
      return { changes: nothing, findings: [{ severity: "info", code: "NOTHING_TO_REPAIR", summary: `Changes nothing: ${why}` }] };
    },
    async apply(ctx, last) {
      if (isNothingToRepair(last)) return last;
      const why = skipped();
      if (why !== undefined) return { nothingToRepair: why };
      return step.apply(ctx, last);
    },
    async verify(ctx, result) {
      if (isNothingToRepair(result)) return { ok: true, summary: "skipped: nothing to repair" };
      return step.verify(ctx, result);
    },
    async rollback(ctx, result) {
      if (isNothingToRepair(result)) return;
      await step.rollback(ctx, result);
    },
    ...(refusal
      ? {
          rollbackRefusal: async (ctx: StepContext, result: C | NothingToRepair) =>
            isNothingToRepair(result) ? undefined : refusal(ctx, result),
        }
      : {}),
  };
}
