/**
 * The faithful-restore comparison as findings (issue 13): what differs between the database the nodes
 * use and database.moveTo's, and what to do. Live (preflight, dry-run) only what a stop cannot change is
 * an error (a missing table, another schema version, another installation); row counts still move while
 * Octopus runs, so they are compared for real by repoint-database, after the stop.
 */
import type { Finding } from "../model/preview.js";
import type { RestoreCheck, RestoreDifference } from "../octopus/sql/restore-compare.js";
import { restoreDifferences } from "../octopus/sql/restore-compare.js";

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
      return `Id counters (KeyAllocation) differ: current ${d.current}; target ${d.target} (a backup taken before the last inserts)`;
    case "row-count":
      return `rows in ${d.table} differ: current ${d.current}, target ${d.target} (a backup taken before the last changes)`;
  }
}

/** One finding per difference; `live`: Octopus still runs, so row counts are only told, not held against the restore. */
export function restoreFindings(checks: RestoreCheck[], live: boolean): Finding[] {
  const differences = restoreDifferences(checks);
  const findings: Finding[] = differences.map((d) => {
    const moving = live && (d.kind === "row-count" || d.kind === "key-allocation");
    return {
      severity: moving ? "info" : "error",
      code: CODES[d.kind],
      summary: `database.moveTo: ${describeDifference(d)}`,
      ...(moving ? { detail: "Octopus is running, so rows still change; repoint-database compares again after stop-services." } : {}),
      fix: moving
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
