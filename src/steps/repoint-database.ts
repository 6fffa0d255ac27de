/**
 * repoint-database (database.moveTo): moves every node onto the database a DBA restored, in the window
 * after stop-services. First it proves every node stopped, then, read-only on both databases (so nothing
 * moves underneath), that the target is a faithful restore of the current database; any difference stops
 * the run resumably before any node is touched; a resume proves both again before it writes a node.
 * Then `Octopus.Server.exe database --connectionString` runs on each node through its control recipe
 * (each node keeps its own copy), journaled per node so a resume continues. Rollback writes the current string back on every node it
 * changed. verify-database, after start-services, proves each node heartbeats into the new database.
 *
 * The connection strings are secrets: they live in memory only. The journal holds each database's
 * server and name (to notice on resume that a variable now names another database), never the strings.
 * octoha never backs up, restores or writes to either database.
 */
import type { Change, Finding } from "../model/preview.js";
import { connectionTarget } from "../octopus/sql/connection-string.js";
import type { RestoreCheck } from "../octopus/sql/restore-compare.js";
import { compareSnapshots, restoreDifferences } from "../octopus/sql/restore-compare.js";
import type { DatabaseInventory, NodeServices } from "../octopus/types.js";
import type { Step, StepContext } from "../runner/step.js";
import { InputError, OctohaError } from "../shared/errors.js";
import { ExitCode } from "../shared/exit-codes.js";
import { describeDifference, RESTORE_FIX, TARGET_AHEAD_FIX_IN_RUN } from "./database-move.js";
import type { RunFacts } from "./facts.js";
import type { DatabaseName, RepointResult } from "./results.js";

export interface RepointDeps {
  nodeNames: string[];
  ports: { inventory: DatabaseInventory; targetDatabase: DatabaseInventory; services: NodeServices };
  /** database.moveTo's string and the one the nodes use now (written back by rollback); memory only. */
  connection: { moveTo: string; current: string };
  facts: RunFacts;
  /** The command as an operator would run it on a node, the string replaced by `***`. */
  commandShown: string;
  /** The variable the current string was read from, to say what `***` stands for in a command to run by hand. */
  currentVariable?: string;
  /** Where the current string (the nodes' "before", written back by rollback) comes from, for previews. */
  currentSource?: string;
  /** `show-configuration` as an operator would run it on a node, to read which database a node names. */
  showConfigurationShown: string;
  /** Plan findings shown with the preview (dry-run, approval). */
  planFindings?: Finding[];
}

const named = (d: DatabaseName) => `${d.database || "(default database)"} on ${d.server}`;

/** Both snapshots and every check; a database that cannot be read stops the run (resumable) with why. */
async function compare(deps: RepointDeps): Promise<{ checks: RestoreCheck[]; heartbeats?: Record<string, string> }> {
  const { inventory, targetDatabase } = deps.ports;
  if (!inventory.snapshot || !targetDatabase.snapshot)
    throw new OctohaError("The database adapter cannot read snapshots for the restore comparison", { code: "DB_MOVE_UNSUPPORTED" });
  const current = await inventory.snapshot();
  const target = await targetDatabase.snapshot();
  const heartbeats = (await targetDatabase.heartbeats?.()) ?? undefined;
  return { checks: compareSnapshots(current, target), ...(heartbeats ? { heartbeats } : {}) };
}

function notFaithful(checks: RestoreCheck[], to: DatabaseName, r: RepointResult | undefined): OctohaError {
  const differences = restoreDifferences(checks);
  // On a resume, nodes the killed run wrote already name the target; say so instead of "no node was changed".
  const written = Object.entries(r?.nodes ?? {})
    .filter(([, s]) => s === "written")
    .map(([n]) => n);
  const writing = Object.entries(r?.nodes ?? {})
    .filter(([, s]) => s === "writing")
    .map(([n]) => n);
  const changed =
    written.length + writing.length === 0
      ? "no node was changed"
      : [
          ...(written.length > 0 ? [`${written.join(", ")} already name(s) it (written before the stop)`] : []),
          ...(writing.length > 0 ? [`${writing.join(", ")} may name it (its command did not finish)`] : []),
          "no other node was changed",
        ].join("; ");
  return new OctohaError(
    `The target database (${named(to)}) is not a faithful restore of the current one: ${differences.length} difference(s); ${changed}`,
    {
      code: "DB_MOVE_NOT_FAITHFUL",
      step: "repoint-database",
      exitCode: ExitCode.Resumable,
      // A target ahead of the current holds work the current lacks: restoring over it would destroy that work.
      hint: [
        ...differences.map((d) => `- ${describeDifference(d)}`),
        differences.some((d) => d.ahead === "target" || d.ahead === "both") ? TARGET_AHEAD_FIX_IN_RUN : RESTORE_FIX,
      ].join("\n"),
    },
  );
}

/**
 * The comparison means something only with every node stopped: a node started since (by hand, after a kill)
 * may have written into the current database. Proven through each node's recipe and ping, not assumed from
 * stop-services' journal record. The hint names, per running node, the database it is configured for as far
 * as the journal knows: written → the target, writing → either (how to read it on the node), not yet → the current.
 */
async function proveStopped(deps: RepointDeps, r: RepointResult | undefined, from: DatabaseName, to: DatabaseName): Promise<void> {
  const states = await Promise.all(deps.nodeNames.map(async (n) => [n, await deps.ports.services.state(n)] as const));
  const notStopped = states.filter(([, s]) => s !== "stopped");
  if (notStopped.length === 0) return;
  const perNode = notStopped.map(([n]) => {
    const state = r?.nodes[n];
    if (state === "written")
      return `- ${n} names the target database (${named(to)}): this run wrote it before the stop, so it writes into the target, not the current database.`;
    if (state === "writing")
      return (
        `- ${n}: its \`database\` command was cut off or failed in this run, so it names ${named(from)} or ${named(to)}: octoha cannot tell which. ` +
        `On ${n}, run \`${deps.showConfigurationShown}\` and read Octopus.Storage.ExternalDatabaseConnectionString: that is the database it writes into.`
      );
    return `- ${n} names the current database (${named(from)}), not yet written by this run: it writes into the current database, so the restore would fall behind it.`;
  });
  throw new OctohaError(
    `Not every node is stopped: ${notStopped.map(([n, s]) => `${n} is ${s}`).join(", ")}; repoint-database compares the databases only with every node stopped, and changed nothing`,
    {
      code: "DB_MOVE_NODE_RUNNING",
      step: "repoint-database",
      exitCode: ExitCode.Resumable,
      hint: [
        ...perNode,
        "Stop every running node through its recipe, then run `octoha resume`: the databases are compared again. A node that ran on the " +
          "current database may have written rows the restore lacks (then restore a newer backup onto the target first); one that ran on " +
          "the target wrote work the current database lacks (the comparison then says so: do not restore anything over the target).",
      ].join("\n"),
    },
  );
}

/**
 * A resume must move to the database the run compared: a variable that now names another one is bad input
 * (exit 2). createWorkflow asks before the run is continued, so nothing is journaled; apply asks again.
 */
export function refuseChangedTarget(r: RepointResult | undefined, moveTo: string, variable?: string): void {
  const to = connectionTarget(moveTo);
  if (!r || (r.to.server.toLowerCase() === to.server.toLowerCase() && r.to.database.toLowerCase() === to.database.toLowerCase())) return;
  const which = variable ? `${variable} (database.moveTo)` : "database.moveTo's variable";
  throw new InputError(
    `database.moveTo now names ${named(to)}, but this run compared and started moving to ${named(r.to)}; nothing was done`,
    {
      code: "DB_MOVE_TARGET_CHANGED",
      step: "repoint-database",
      hint: `Set ${which} back to the connection string of ${named(r.to)}, then run the resume again; or \`octoha rollback\` (it writes back the current string and does not use database.moveTo). To move to another database, finish or roll back this run first.`,
    },
  );
}

/**
 * Some nodes could not be pointed back. The rollback stops here, every node still stopped: a node that may
 * name the target, started beside nodes on the current database, would split the cluster over two databases.
 * Says which nodes were put back, which the run never changed, and each failure with its own command.
 */
function notPutBack(deps: RepointDeps, r: RepointResult, putBack: string[], failed: { node: string; why: string }[]): OctohaError {
  const never = deps.nodeNames.filter((n) => r.nodes[n] === undefined);
  const names = failed.map((f) => f.node).join(", ");
  const mayName = (node: string) =>
    r.nodes[node] === "writing"
      ? `its \`database\` command failed or was cut off in the run, so it names ${named(r.from)} or ${named(r.to)}: octoha cannot tell which`
      : `it names ${named(r.to)}`;
  const current = deps.currentVariable ? `the value of ${deps.currentVariable}` : "the connection string the nodes used before the run";
  return new OctohaError(
    `${names} could not be pointed back at ${named(r.from)}; ${putBack.length > 0 ? `put back: ${putBack.join(", ")}` : "no node was put back"}${never.length > 0 ? `; never changed by the run: ${never.join(", ")}` : ""}`,
    {
      code: "DB_MOVE_ROLLBACK_FAILED",
      step: "repoint-database",
      exitCode: ExitCode.Failed,
      hint: [
        ...failed.map((f) => `${f.node} (${mayName(f.node)}): ${f.why}`),
        ...(failed.some((f) => f.why.includes("***")) ? [`In the command above, *** stands for ${current}.`] : []),
        `The rollback stopped here and started no node: a node on ${named(r.to)} beside nodes on ${named(r.from)} would split the cluster over two databases.`,
        `Fix what made \`database\` fail on ${names} (a node's recipe, e.g. nodes[].control.serverExe, may be corrected in the plan), then roll back again: it points every node the run changed back again.`,
      ].join("\n"),
    },
  );
}

export function createRepointDatabaseStep(deps: RepointDeps): Step<RepointResult, "repoint-database"> {
  const from = connectionTarget(deps.connection.current);
  const to = connectionTarget(deps.connection.moveTo);
  const { services } = deps.ports;
  const write = async (node: string, connectionString: string) => {
    if (!services.setConnectionString)
      throw new OctohaError("The node-control adapter cannot run Octopus.Server.exe database", { code: "NODE_CONTROL_NO_DATABASE", node });
    await services.setConnectionString(node, connectionString);
  };
  return {
    id: "repoint-database",
    title: "Move every node onto the restored database",
    requiresApproval: true,
    async inspect() {
      const changes: Change[] = deps.nodeNames.map((n) => ({
        action: "update",
        target: `node ${n} database connection string`,
        before: `${named(from)}${deps.currentSource ? `, from ${deps.currentSource}` : ""}`,
        after: named(to),
        summary: `${n}: ${named(from)} → ${named(to)} (\`${deps.commandShown}\`)${deps.currentSource ? `; the before, and what a rollback writes back, is ${deps.currentSource}` : ""}`,
      }));
      const checksToRun =
        "After stop-services: tables present, schema version (highest SchemaVersions row), installation identity " +
        "(OctopusServerInstallationHistory), Id counters (KeyAllocation), row counts of ServerTask, OctopusServerNode, NuGetPackage, Event, KeyAllocation, " +
        "SchemaVersions; then `database` on each node; after start-services each node's LastSeen must advance in the new database.";
      // The comparison's findings come from preflight (once per report); here: what runs, and when.
      const findings: Finding[] = [...(deps.planFindings ?? []), { severity: "info", code: "DB_MOVE_CHECKS", summary: checksToRun }];
      return { changes, findings, facts: { checks: checksToRun, command: deps.commandShown, from, to } };
    },
    async apply(ctx: StepContext, last) {
      let r = last;
      refuseChangedTarget(r, deps.connection.moveTo);
      // Compared every time a node is still to be written, a resume included: a run killed after its
      // comparison leaves the nodes stopped, but someone may start one (and Octopus write a row into the
      // current database) before the resume. Nodes written already change neither database while stopped,
      // so nothing differs legitimately; the new comparison and heartbeats replace the old ones.
      if (!r || deps.nodeNames.some((n) => r?.nodes[n] !== "written")) {
        await proveStopped(deps, r, from, to);
        const { checks, heartbeats } = await compare(deps);
        if (restoreDifferences(checks).length > 0) throw notFaithful(checks, to, r);
        r = { from, to, checks, ...(heartbeats ? { heartbeatsBefore: heartbeats } : {}), nodes: r?.nodes ?? {} };
        await ctx.checkpoint(r);
        ctx.emit({
          level: "info",
          message: `Restore comparison: all ${checks.length} checks passed (${checks.map((c) => c.check).join(", ")})`,
        });
      }
      for (const node of deps.nodeNames) {
        if (r.nodes[node] === "written") continue;
        r = { ...r, nodes: { ...r.nodes, [node]: "writing" } };
        await ctx.checkpoint(r);
        await write(node, deps.connection.moveTo);
        r = { ...r, nodes: { ...r.nodes, [node]: "written" } };
        await ctx.checkpoint(r);
        ctx.emit({ level: "info", message: `${node} now names ${named(to)} (takes effect when it starts)` });
      }
      deps.facts.set("repoint-database", r);
      return r;
    },
    async verify(_ctx, r) {
      const pending = deps.nodeNames.filter((n) => r.nodes[n] !== "written");
      return {
        ok: pending.length === 0,
        summary: pending.length === 0 ? `every node names ${named(r.to)}` : `not yet written: ${pending.join(", ")}`,
        problems: pending,
      };
    },
    async rollback(ctx, r) {
      // Every node the run may have changed is tried, newest first: one that fails does not stop the others.
      // A node journaled "writing" may not have changed (its command failed or was cut off): writing the
      // current string back is harmless there, and its failure is reported like any other.
      const changed = deps.nodeNames.filter((n) => r.nodes[n] !== undefined).reverse();
      const putBack: string[] = [];
      const failed: { node: string; why: string }[] = [];
      for (const node of changed) {
        try {
          await write(node, deps.connection.current);
          putBack.push(node);
          ctx.emit({ level: "info", message: `${node} names ${named(r.from)} again (takes effect when it starts)` });
        } catch (error) {
          failed.push({ node, why: error instanceof OctohaError ? error.describe() : (error as Error).message });
        }
      }
      if (failed.length > 0) throw notPutBack(deps, r, putBack, failed);
      if (deps.facts.get("start-services"))
        ctx.emit({
          level: "warn",
          message: `Nodes ran on ${named(r.to)} before this rollback: anything Octopus wrote there since (tasks, audit events) is not in ${named(r.from)}.`,
        });
    },
  };
}
