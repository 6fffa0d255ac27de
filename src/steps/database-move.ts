/**
 * The faithful-restore comparison as findings (issue 13): what differs between the database the nodes
 * use and database.moveTo's, and what to do. Live (preflight, dry-run) only what a stop cannot change is
 * an error (a missing table, another schema version, another installation); row counts still move while
 * Octopus runs, so they are compared for real by repoint-database, after the stop.
 */
import type { Finding } from "../model/preview.js";
import type { RestoreCheck, RestoreDifference } from "../octopus/sql/restore-compare.js";
import { restoreDifferences } from "../octopus/sql/restore-compare.js";
import type { Plan } from "../plan/schema.js";
import type { RepointResult } from "./results.js";

export const RESTORE_FIX =
  "Restore onto the target a backup of the current database taken after the services stopped (in the window, after " +
  "stop-services: nothing moves then), then run `octoha resume`; or `octoha rollback` to start the nodes on the current database again.";

/** Before any run changed anything (check, dry-run, a run's preflight): there is nothing to resume or roll back. */
export const RESTORE_FIX_BEFORE_RUN =
  "Restore onto the target a backup of the current database (this installation, at its schema version), then run " +
  "`octoha check` and start the run again: nothing was changed. The backup the nodes move onto is taken in the window, after " +
  "stop-services; repoint-database compares again then.";

/** database.moveTo reaching the nodes' own database: nothing to restore, the plan names the wrong string. */
export const SAME_DATABASE_FIX =
  "Set database.moveTo to the connection string of the restored database (on its new server, or under its new name), " +
  "not another spelling of the one the nodes use now (localhost or 127.0.0.1, a space after the comma, no Database=); " +
  "or remove the database section to keep the nodes where they are.";

/**
 * The target holds rows or Ids the current lacks: something wrote into it after its restore, so it may be the
 * database the nodes use now. Restoring over it would destroy that work: never advised then.
 */
export const TARGET_AHEAD_FIX =
  "Do not restore anything over the target: it holds work the current database lacks and may be the one Octopus uses now. " +
  "Find which database each node names (`Octopus.Server.exe show-configuration` on the node: Octopus.Storage.ExternalDatabaseConnectionString). " +
  "If every node names the target, the move is done: point octopus.sql.connectionString's variable at the new database and remove " +
  "database.moveTo (and database.current) from the plan before any other run.";

/** The same, in repoint-database (after the stop): a node that ran on the target since is the usual cause. */
export const TARGET_AHEAD_FIX_IN_RUN =
  "Do not restore anything over the target: it holds work the current database lacks (a node that names it, started since, " +
  "wrote into it). `octoha rollback` points every node back at the current database; what Octopus wrote into the target stays " +
  "there only. To move anyway, the target must hold everything: that is a decision for you and the DBA, not a restore octoha can advise.";

const CODES: Record<RestoreDifference["kind"], string> = {
  "same-database": "DB_MOVE_SAME_DATABASE",
  "table-missing": "DB_MOVE_TABLE_MISSING",
  "schema-version": "DB_MOVE_SCHEMA_VERSION",
  identity: "DB_MOVE_IDENTITY",
  "key-allocation": "DB_MOVE_KEY_ALLOCATION",
  "row-count": "DB_MOVE_ROW_COUNT",
};

export function describeDifference(d: RestoreDifference): string {
  switch (d.kind) {
    case "same-database":
      return `the target is the database the nodes use now, reached under another spelling: current ${d.current}; target ${d.target} (the same server, instance, database id and creation time)`;
    case "table-missing":
      return `the target database is not a full restore: ${d.target} (the current one has ${d.current})`;
    case "schema-version":
      return `schema version differs: current ${d.current}, target ${d.target} (a backup from another Octopus version)`;
    case "identity":
      return `installation differs: current ${d.current}; target ${d.target} (a restore of another Octopus installation)`;
    case "key-allocation":
      return `Id counters (KeyAllocation) differ: current ${d.current}; target ${d.target} (${
        d.ahead === "target"
          ? "the target is ahead: it handed out Ids the current never did, so Octopus wrote into it after its restore; it may be the live one"
          : d.ahead === "both"
            ? "each is ahead in some collection: both were written after the restore"
            : "a backup taken before the last inserts"
      })`;
    case "row-count":
      return `rows in ${d.table} differ: current ${d.current}, target ${d.target} (${
        d.ahead === "target"
          ? "the target has more: written after its restore, it may be the live one; or rows were deleted from the current since"
          : "a backup taken before the last changes"
      })`;
  }
}

/** One finding per difference; `live`: Octopus still runs, so row counts are only told, not held against the restore. */
export function restoreFindings(checks: RestoreCheck[], live: boolean): Finding[] {
  const differences = restoreDifferences(checks);
  const findings: Finding[] = differences.map((d) => {
    // Ids only grow: a target that handed out Ids the current never did was written after its restore, and no
    // stop of the nodes on the current database changes that. Row counts alone can drop (retention), so they are told.
    const written = d.kind === "key-allocation" && (d.ahead === "target" || d.ahead === "both");
    const moving = live && !written && (d.kind === "row-count" || d.kind === "key-allocation");
    return {
      severity: moving ? "info" : "error",
      code: written ? "DB_MOVE_TARGET_AHEAD" : CODES[d.kind],
      summary: `database.moveTo: ${describeDifference(d)}`,
      ...(moving ? { detail: "Octopus is running, so rows still change; repoint-database compares again after stop-services." } : {}),
      fix:
        d.ahead === "target" || d.ahead === "both"
          ? live
            ? TARGET_AHEAD_FIX
            : TARGET_AHEAD_FIX_IN_RUN
          : moving
            ? "Restore the backup in the window, after stop-services, before repoint-database runs."
            : d.kind === "same-database"
              ? SAME_DATABASE_FIX
              : live
                ? RESTORE_FIX_BEFORE_RUN
                : RESTORE_FIX,
    };
  });
  if (!checks.some((c) => c.check === "another database"))
    findings.push({
      severity: "warning",
      code: "DB_MOVE_LOCATION_UNKNOWN",
      summary:
        "database.moveTo: could not tell whether it reaches another database than the nodes use (the server did not answer @@SERVERNAME, DB_ID() and sys.databases)",
      fix: "Make sure database.moveTo names the restored database, not another spelling of the current one: a move onto the same database changes nothing.",
    });
  const passed = checks.filter((c) => c.passed).map((c) => c.check);
  if (differences.length === 0 || passed.length > 0)
    findings.push({
      severity: "info",
      code: "DB_MOVE_CHECKS_PASSED",
      summary: `database.moveTo: ${passed.length} of ${checks.length} restore checks match (${passed.join(", ")})`,
    });
  return findings;
}

/**
 * Before a run (check, dry-run, preflight): nodes whose latest heartbeat is in the target run on it (a
 * finished move, or a node started on it by hand). Moving them again would stop the cluster for nothing, and a
 * comparison would then advise restoring the stale current database over the live one: refused instead.
 */
export function nodesOnTargetFinding(
  beats: { current: Record<string, string>; target: Record<string, string> },
  onTarget: string[],
  onCurrent: string[],
  sqlVariable: string,
): Finding {
  const seen = onTarget.map((n) => `${n} last seen ${beats.target[n]} in the target, ${beats.current[n] ?? "(never)"} in the current`);
  const all = onCurrent.length === 0;
  return {
    severity: "error",
    code: "DB_MOVE_ALREADY_MOVED",
    summary: all
      ? `database.moveTo: the nodes already run on database.moveTo's database (a finished move): ${seen.join("; ")}`
      : `database.moveTo: ${onTarget.join(", ")} heartbeat(s) into database.moveTo's database, ${onCurrent.join(", ")} into the current one: the cluster is split over two databases (${seen.join("; ")})`,
    detail:
      "A restore copies each node's LastSeen as it was at the backup; only the database a node runs on gets its heartbeats after that.",
    fix: all
      ? `The move is done: set ${sqlVariable} (octopus.sql.connectionString) to the new database's connection string and remove database.moveTo (and database.current) from the plan, then run again. Do not restore anything over the new database: it is the live one.`
      : `Do not restore anything over either database. Find which database each node names (\`Octopus.Server.exe show-configuration\` on the node), stop the nodes on the one you are leaving, and have the DBA decide which holds the work to keep before any run.`,
  };
}

/**
 * A run that moved every node and saw them start: later runs must read the new database and must not move
 * again (a run with moveTo still set is refused). Said as the run's last words; the report says it too.
 */
export function afterMove(plan: Plan, recorded: (stepId: string) => unknown): string | undefined {
  const r = recorded("repoint-database") as RepointResult | undefined;
  if (!plan.database || !r || !recorded("verify-database") || Object.values(r.nodes).some((s) => s !== "written")) return undefined;
  return (
    `Every node now runs on ${r.to.database || "(default database)"} on ${r.to.server}. Before any later octoha run, set ` +
    `${plan.octopus.sql.connectionString.env} (octopus.sql.connectionString) to the new database's connection string ` +
    `(${plan.database.moveTo.env} holds octoha's) and remove database.moveTo${plan.database.current ? " and database.current" : ""} ` +
    "from the plan: the nodes no longer use the old database, and a run with moveTo still set would try to move them again."
  );
}
