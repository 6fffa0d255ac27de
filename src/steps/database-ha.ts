/**
 * The database HA probe's facts as findings (issue 13): what Octopus documents as supported (FCI,
 * Always On AG, a managed service), what it has not tested (mirroring, log shipping) and what it does
 * not support (replication). A question the login may not ask is "unknown" with the grant, never an error.
 */
import type { Finding } from "../model/preview.js";
import type { DatabaseHaFacts, HaKind } from "../octopus/sql/ha-probe.js";

const KIND_NAMES: Record<HaKind, string> = {
  "azure-sql-database": "Azure SQL Database (highly available by the platform)",
  "managed-instance": "Azure SQL Managed Instance (highly available by the platform)",
  "failover-cluster-instance": "SQL Server failover cluster instance",
  "availability-group": "Always On availability group",
  standalone: "standalone SQL Server instance",
};

const HA_OPTIONS =
  "Make the database highly available before (or soon after) going HA: a SQL Server failover cluster instance, an Always On " +
  "availability group (connect through its listener with MultiSubnetFailover=True), or a managed service (Azure SQL Database, " +
  "Managed Instance, Amazon RDS Multi-AZ). To Octopus it is just a connection string.";

export function databaseHaFindings(facts: DatabaseHaFacts): Finding[] {
  const findings: Finding[] = [...kindFindings(facts)];
  if (facts.mirroring)
    findings.push({
      severity: "warning",
      code: "DB_HA_MIRRORING",
      summary: "The Octopus database uses database mirroring, which Octopus High Availability has not been tested with",
      detail: "Octopus documents mirroring as untested for HA (and elsewhere as not supported).",
      fix: "Move to an Always On availability group (Octopus's recommendation) or a failover cluster instance.",
    });
  if (facts.logShipping)
    findings.push({
      severity: "warning",
      code: "DB_HA_LOG_SHIPPING",
      summary: "The Octopus database is a log shipping primary: log shipping is disaster recovery, not HA, and untested by Octopus for HA",
      fix: "Keep it for DR if you like, but make the database itself highly available (FCI or availability group).",
    });
  if (facts.published)
    findings.push({
      severity: "error",
      code: "DB_HA_REPLICATION",
      summary: "The Octopus database is published for SQL Server replication, which Octopus does not support",
      fix: "Remove the publication (sp_droppublication / sp_replicationdboption 'publish', false) before going HA.",
    });
  for (const u of facts.unknown)
    findings.push({
      severity: "info",
      code: "DB_HA_UNKNOWN",
      summary: `Database HA: unknown whether ${PROBE_QUESTIONS[u.probe] ?? u.probe} (${u.reason})`,
      ...(u.grant ? { fix: `To let octoha tell, a DBA can run: ${u.grant}` } : {}),
    });
  return findings;
}

const PROBE_QUESTIONS: Record<string, string> = {
  server: "the instance is clustered or in Azure",
  availabilityGroup: "the database is in an availability group",
  listeners: "the availability group's listener spans several subnets",
  mirroring: "the database is mirrored",
  logShipping: "the database is log shipped",
  replication: "the database is published for replication",
};

function kindFindings(facts: DatabaseHaFacts): Finding[] {
  if (!facts.kind) return [];
  if (facts.kind === "standalone")
    return [
      {
        severity: "warning",
        code: "DB_HA_STANDALONE",
        summary: "The database is a single point of failure for every node (a standalone SQL Server instance)",
        fix: HA_OPTIONS,
      },
    ];
  const ag = facts.availabilityGroup;
  const agDetail = ag
    ? ` "${ag.name}", ${ag.replicas} replica${ag.replicas === 1 ? "" : "s"} (${ag.synchronousReplicas} synchronous-commit)`
    : "";
  const findings: Finding[] = [{ severity: "info", code: "DB_HA_KIND", summary: `HA: ${KIND_NAMES[facts.kind]}${agDetail}` }];
  if (ag) findings.push(...listenerFindings(facts, ag));
  return findings;
}

function listenerFindings(facts: DatabaseHaFacts, ag: NonNullable<DatabaseHaFacts["availabilityGroup"]>): Finding[] {
  const listeners = ag.listeners;
  if (!listeners) return [];
  const host = facts.connection.server.split(/[,\\]/)[0]?.replace(/^tcp:/i, "").toLowerCase() ?? "";
  const named = listeners.find(
    (l) => l.dnsName.toLowerCase() === host || host.startsWith(`${l.dnsName.toLowerCase()}.`) || l.ipAddresses.includes(host),
  );
  const findings: Finding[] = [];
  if (listeners.length === 0 || !named)
    findings.push({
      severity: "warning",
      code: "DB_HA_NOT_LISTENER",
      summary:
        listeners.length === 0
          ? `Availability group "${ag.name}" has no listener: after a failover the nodes keep connecting to the old primary`
          : `The connection string names ${facts.connection.server}, not the availability group listener`,
      fix:
        listeners.length === 0
          ? "Create a listener for the availability group and point every node's connection string at it."
          : `Point every node's connection string at the listener (${listeners.map((l) => l.dnsName).join(", ")}).`,
    });
  const multiSubnet = listeners.some((l) => l.subnets > 1);
  if (multiSubnet && !facts.connection.multiSubnetFailover)
    findings.push({
      severity: "warning",
      code: "DB_HA_MULTISUBNET",
      summary: `Availability group "${ag.name}" spans several subnets but the connection string lacks MultiSubnetFailover=True`,
      detail: "Without it a failover to another subnet can take the client connection timeout to notice, on every node.",
      fix: "Add MultiSubnetFailover=True to every node's connection string (Octopus.Server.exe database --connectionString).",
    });
  return findings;
}
