/**
 * `octoha check` runs the workflows' own preflight inspect (read-only: no probe file, no write
 * anywhere) once the plan's secrets are set: Octopus reachable with the API key and its version,
 * SQL reachable and the schema recognised (encrypted or not), each node's URL answers its ping,
 * node folders readable, shared targets' nearest existing parents writable, free space against
 * the node folders' size.
 */
import type { CheckContext, PlanCheck } from "../plan/checks.js";
import type { StepContext } from "../runner/step.js";
import { connectionStringProblem } from "../octopus/sql/connection-string.js";
import { createRunFacts } from "./facts.js";
import { createCopyEngine, createOctopusPorts } from "./ports.js";
import { createPreflightStep } from "./preflight.js";

export const PREFLIGHT_CHECK_ID = "preflight";

/** The inspect of a read-only step needs no journal: checkpoints are refused, events dropped. */
function checkStepContext(ctx: CheckContext): StepContext {
  return {
    runId: "check",
    stepId: "preflight",
    signal: ctx.signal ?? new AbortController().signal,
    checkpoint: () => Promise.reject(new Error("octoha check writes nothing")),
    emit: () => undefined,
    now: () => Date.now(),
  };
}

export const preflightCheck: PlanCheck = {
  id: PREFLIGHT_CHECK_ID,
  title: "Preflight: Octopus, SQL, nodes, folders, free space (read-only)",
  async run(ctx) {
    const { apiKey, sqlConnectionString, missing } = ctx.secrets;
    if (missing.length > 0 || apiKey === undefined || sqlConnectionString === undefined) {
      return [
        {
          severity: "info",
          code: "PREFLIGHT_SKIPPED",
          summary: "Preflight not run: the plan's secrets are not all set",
          fix: "Set the environment variables named above and run `octoha check` again to reach Octopus, SQL and the folders.",
        },
      ];
    }
    if (connectionStringProblem(sqlConnectionString, "")) {
      const summary = "Preflight not run: the SQL connection string is not usable (see above)";
      return [{ severity: "info", code: "PREFLIGHT_SKIPPED", summary, fix: "Correct it and run `octoha check` again." }];
    }
    // A database.moveTo that is not usable is reported by env-refs; the comparison needs a usable one.
    const moveTo = ctx.secrets.database?.moveTo;
    const usableMoveTo = moveTo !== undefined && !connectionStringProblem(moveTo, "") ? { databaseMoveTo: moveTo } : {};
    const ports = createOctopusPorts(
      ctx.loaded.plan,
      { apiKey, sqlConnectionString, ...usableMoveTo },
      { ...(ctx.signal ? { signal: ctx.signal } : {}), planFile: ctx.loaded.file },
    );
    try {
      const step = createPreflightStep({
        plan: ctx.loaded.plan,
        ports,
        engine: createCopyEngine(),
        facts: createRunFacts(),
        env: { ...ctx.env },
        pingNodes: true,
        planFile: ctx.loaded.file,
      });
      return (await step.inspect(checkStepContext(ctx))).findings;
    } finally {
      await ports.inventory.close().catch(() => undefined);
      await ports.targetDatabase?.close().catch(() => undefined);
    }
  },
};
