/**
 * verify-database (database.moveTo): after start-services, proves every node runs on the new database.
 * A running Octopus node heartbeats into the database it uses (OctopusServerNode.LastSeen), so each
 * node's LastSeen must advance past the value repoint-database saw with every node stopped, in the new
 * database; a node that advances only in the old database was not moved. Read-only; the deadline is a
 * timestamp in the checkpoint, so a resume continues the same wait.
 */
import type { DatabaseInventory } from "../octopus/types.js";
import type { Step, StepContext } from "../runner/step.js";
import { OctohaError } from "../shared/errors.js";
import { ExitCode } from "../shared/exit-codes.js";
import { realClock, type Clock } from "./deps.js";
import type { RunFacts } from "./facts.js";

export interface VerifyDatabaseResult {
  deadline: number;
  /** Nodes seen heartbeating into the new database, with the LastSeen that proved it. */
  proven: Record<string, string>;
  /** Set when the schema keeps LastSeen elsewhere: nothing could be proven this way. */
  unverifiable?: string;
}

export interface VerifyDatabaseDeps {
  nodeNames: string[];
  ports: { inventory: DatabaseInventory; targetDatabase: DatabaseInventory };
  facts: RunFacts;
  clock?: Clock;
  timeoutMs: number;
  pollIntervalMs?: number;
}

const later = (a: string | undefined, b: string | undefined) => a !== undefined && (b === undefined || Date.parse(a) > Date.parse(b));

export function createVerifyDatabaseStep(deps: VerifyDatabaseDeps): Step<VerifyDatabaseResult, "verify-database"> {
  const clock = deps.clock ?? realClock;
  const before = () => deps.facts.get("repoint-database")?.heartbeatsBefore;
  /** Nodes whose LastSeen in the new database is past the one seen when every node was stopped. */
  const advanced = async (): Promise<Record<string, string> | undefined> => {
    const now = await deps.ports.targetDatabase.heartbeats?.();
    if (!now) return undefined;
    const was = before() ?? {};
    return Object.fromEntries(deps.nodeNames.filter((n) => later(now[n], was[n])).map((n) => [n, now[n]!]));
  };
  return {
    id: "verify-database",
    title: "Prove every node runs on the new database",
    readOnly: true,
    async inspect() {
      return {
        changes: [],
        findings: [
          {
            severity: "info",
            code: "DB_MOVE_VERIFY",
            summary: `After start-services: each node's LastSeen must advance in database.moveTo's database (${deps.nodeNames.join(", ")})`,
          },
        ],
      };
    },
    async apply(ctx: StepContext, last) {
      const deadline = last?.deadline ?? clock.now() + deps.timeoutMs;
      if (!last) await ctx.checkpoint({ deadline, proven: {} });
      for (;;) {
        const proven = await advanced();
        if (!proven) {
          const unverifiable = "this schema keeps LastSeen outside OctopusServerNode, so octoha cannot see the heartbeats";
          ctx.emit({
            level: "warn",
            message: `Cannot prove the nodes use the new database: ${unverifiable}. Check Configuration ➜ Nodes.`,
          });
          return { deadline, proven: {}, unverifiable };
        }
        const waiting = deps.nodeNames.filter((n) => !(n in proven));
        if (waiting.length === 0) return { deadline, proven };
        if (clock.now() >= deadline) throw notMoved(deps, waiting, await oldHeartbeats(deps));
        if (ctx.signal.aborted)
          throw new OctohaError("Stopped while waiting for the nodes' heartbeats in the new database", {
            code: "INTERRUPTED",
            step: "verify-database",
            exitCode: ExitCode.Resumable,
            hint: "Run `octoha resume` to go on waiting.",
          });
        ctx.emit({ level: "progress", message: `Waiting for ${waiting.join(", ")} to heartbeat into the new database` });
        await clock.sleep(Math.min(deps.pollIntervalMs ?? 2000, Math.max(0, deadline - clock.now())), ctx.signal);
      }
    },
    async verify(_ctx, r) {
      if (r.unverifiable) return { ok: true, summary: `not verifiable: ${r.unverifiable}` };
      const missing = deps.nodeNames.filter((n) => !(n in r.proven));
      return {
        ok: missing.length === 0,
        summary:
          missing.length === 0 ? "every node heartbeats into the new database" : `not seen in the new database: ${missing.join(", ")}`,
        problems: missing,
      };
    },
    async rollback() {
      // Read-only.
    },
  };
}

async function oldHeartbeats(deps: VerifyDatabaseDeps): Promise<Record<string, string> | undefined> {
  return (await deps.ports.inventory.heartbeats?.().catch(() => undefined)) ?? undefined;
}

function notMoved(deps: VerifyDatabaseDeps, waiting: string[], old: Record<string, string> | undefined): OctohaError {
  const was = deps.facts.get("repoint-database")?.heartbeatsBefore ?? {};
  return new OctohaError(`${waiting.length} node(s) did not heartbeat into the new database in time: ${waiting.join(", ")}`, {
    code: "DB_MOVE_NOT_VERIFIED",
    step: "verify-database",
    hint: [
      ...waiting.map((n) => `${n}: LastSeen in the new database ${was[n] ?? "(none)"}; in the old database ${old?.[n] ?? "(unknown)"}`),
      "A node whose LastSeen advances in the old database still uses it: check its config (show-configuration) and its control recipe.",
      "`octoha rollback` points every node back at the old database.",
    ].join("\n"),
  });
}
