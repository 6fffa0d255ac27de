/**
 * Plan-only warnings: things that are valid but often wrong at 2 a.m. (reference/octopus.md §6.5).
 * They never block (`check` still exits 0); each says why and what to do.
 */
import type { Finding } from "../model/preview.js";
import type { LoadedPlan } from "./load.js";
import type { Plan } from "./schema.js";
import { sharedLocations } from "./locations.js";

const DRIVE = /^([A-Za-z]):[\\/]/;

export function planWarnings({ plan, stateDir }: LoadedPlan): Finding[] {
  const findings: Finding[] = [];
  if (plan.octopus.platform === "windows")
    for (const { where, loc } of sharedLocations(plan)) {
      const drive = DRIVE.exec(loc.octopus)?.[1];
      if (drive)
        findings.push({
          severity: "warning",
          code: "SHARED_ON_DRIVE_LETTER",
          summary: `${where}.octopus is on drive ${drive.toUpperCase()}:, which each node must map for the Octopus service account`,
          detail:
            'Drives are mapped per user; when the service account does not see it, Octopus fails with "Could not find a part of the path" and stops.',
          fix: `Prefer the UNC path (\\\\server\\share\\…); otherwise map ${drive.toUpperCase()}: persistently for the service account on every node.`,
          path: `${where}.octopus`,
        });
    }
  plan.nodes.forEach((n, i) => {
    if (n.service && !n.control)
      findings.push({
        severity: "warning",
        code: "NODE_SERVICE_DEPRECATED",
        summary: `nodes[${i}].service is read as control: { "kind": "argv", … }`,
        fix: 'Write control: { "kind": "argv", "stop": […], "start": […], "status": […] } instead, or a remote recipe (sc, winrm, ssh).',
        node: n.name,
        path: `nodes[${i}].service`,
      });
    if (Object.keys(n.folders).length === 0)
      findings.push({
        severity: "warning",
        code: "NODE_WITHOUT_FOLDERS",
        summary: `nodes[${i}] (${n.name}) lists no folders, so nothing is copied from it`,
        fix: "Fine if it already uses shared storage; otherwise add its local TaskLogs/Artifacts/Packages folders.",
        node: n.name,
        path: `nodes[${i}].folders`,
      });
  });
  if (plan.nodes.length > 1 && plan.options.stateDir === undefined)
    findings.push({
      severity: "info",
      code: "STATE_DIR_LOCAL",
      summary: `run state goes to ${stateDir}, next to the plan`,
      fix: "Set options.stateDir to a folder on shared storage to resume a run from another node.",
      path: "options.stateDir",
    });
  findings.push(...rollbackConnectionStringWarnings(plan));
  const kinds = sharedLocations(plan).map((l) => `${l.kind} ${l.loc.octopus}`);
  findings.push({
    severity: "info",
    code: "PLAN_SUMMARY",
    summary: `${plan.nodes.length} node${plan.nodes.length === 1 ? "" : "s"} (${plan.nodes.map((n) => n.name).join(", ")}), ${plan.octopus.platform} paths; shared: ${kinds.join("; ")}`,
  });
  return findings;
}

/**
 * Where the connection string that repoint-database's rollback writes back to every node comes from:
 * database.current, else octoha's own octopus.sql.connectionString (often a read-only login).
 */
export function rollbackConnectionStringSource(plan: Plan): string {
  if (plan.database?.current) return `database.current (${plan.database.current.env})`;
  return `octopus.sql.connectionString (${plan.octopus.sql.connectionString.env}): octoha's own string, database.current not being set`;
}

/** A database move without database.current: a rollback would put octoha's own login into every node's config. */
export function rollbackConnectionStringWarnings(plan: Plan): Finding[] {
  if (!plan.database || plan.database.current) return [];
  const own = plan.octopus.sql.connectionString.env;
  return [
    {
      severity: "warning",
      code: "DB_MOVE_ROLLBACK_WRITES_OCTOHA_LOGIN",
      summary: `database.moveTo without database.current: a rollback would write octoha's own connection string (${own}, with its login, often a read-only one) into every node's config`,
      detail:
        "repoint-database's rollback points every node back at the current database with the string octoha has for it; Octopus then runs as that login, and cannot start or write if it is a reader.",
      fix: `Set database.current to an env reference holding the nodes' own connection string (Octopus.Storage.ExternalDatabaseConnectionString, as \`Octopus.Server.exe show-configuration\` prints it on a node), e.g. "database": { "moveTo": { "env": "${plan.database.moveTo.env}" }, "current": { "env": "OCTOHA_NODES_SQL_CONNECTION_STRING" } }.`,
      path: "database.current",
    },
  ];
}
