/**
 * Read-only probe: is the Octopus database itself highly available? Each question is its own request
 * (a missing object, error 208, aborts the whole batch and TRY…CATCH at the same level does not catch
 * it), and every failure degrades to "unknown" with the grant that would let octoha tell, never a
 * failed run. Errors are classified by SQL Server error number, never by message text.
 */

/** Runs one read-only SQL text and returns its rows; throws the driver's error as is (mssql RequestError). */
export interface SqlReader {
  rows<T>(text: string): Promise<T[]>;
}

export type HaKind = "azure-sql-database" | "managed-instance" | "failover-cluster-instance" | "availability-group" | "standalone";

/** A question the probe could not answer: why, and the grant (if any) that would let it. */
export interface UnknownProbe {
  probe: string;
  reason: string;
  grant?: string;
}

export interface AvailabilityGroupFacts {
  name: string;
  replicas: number;
  synchronousReplicas: number;
  /** Listener DNS names, their IP addresses and how many distinct subnets each spans; undefined when unreadable. */
  listeners?: { dnsName: string; subnets: number; ipAddresses: string[] }[];
}

export interface DatabaseHaFacts {
  /** undefined when even SERVERPROPERTY could not be read (then nothing else is claimed). */
  kind?: HaKind;
  engineEdition?: number;
  availabilityGroup?: AvailabilityGroupFacts;
  mirroring?: boolean;
  logShipping?: boolean;
  published?: boolean;
  /** From the connection string octoha was given (what the nodes use, as far as octoha knows). */
  connection: { server: string; multiSubnetFailover: boolean };
  unknown: UnknownProbe[];
}

interface DriverError {
  number?: number;
  message?: string;
  precedingErrors?: DriverError[];
  originalError?: DriverError;
  /** OctohaError keeps the numbers of the driver error it wraps on its (redacted) cause. */
  numbers?: number[];
  cause?: unknown;
}

/** Every SQL Server error number in the error: tedious keeps the one naming the permission (300, 262) in precedingErrors. */
export function sqlErrorNumbers(error: unknown, depth = 0): number[] {
  if (typeof error !== "object" || error === null || depth > 4) return [];
  const e = error as DriverError;
  return [
    ...(typeof e.number === "number" ? [e.number] : []),
    ...(e.precedingErrors ?? []).flatMap((x) => sqlErrorNumbers(x, depth + 1)),
    ...sqlErrorNumbers(e.originalError, depth + 1),
    ...(e.numbers ?? []),
    ...sqlErrorNumbers(e.cause, depth + 1),
  ];
}

const PERMISSION_NUMBERS = new Set([297, 300, 262, 229, 916]);

/** The SQL texts, fixed and read-only (the stand-in answers exactly these). */
export const HA_SQL = {
  server:
    "SELECT CAST(SERVERPROPERTY('EngineEdition') AS int) AS EngineEdition, CAST(SERVERPROPERTY('IsClustered') AS int) AS IsClustered, " +
    "CAST(SERVERPROPERTY('IsHadrEnabled') AS int) AS IsHadrEnabled",
  availabilityGroup:
    "SELECT ag.name AS AgName, " +
    "(SELECT COUNT(*) FROM sys.availability_replicas ar WHERE ar.group_id = ag.group_id) AS Replicas, " +
    "(SELECT COUNT(*) FROM sys.availability_replicas ar WHERE ar.group_id = ag.group_id AND ar.availability_mode = 1) AS SyncReplicas " +
    "FROM sys.dm_hadr_database_replica_states drs JOIN sys.availability_groups ag ON ag.group_id = drs.group_id " +
    "WHERE drs.database_id = DB_ID() AND drs.is_local = 1",
  listeners:
    // One row per listener address: a connection string may name the listener by one of its IPs.
    "SELECT l.dns_name AS DnsName, ip.ip_address AS IpAddress, ip.network_subnet_ip AS SubnetIp " +
    "FROM sys.availability_group_listeners l " +
    "JOIN sys.availability_group_listener_ip_addresses ip ON ip.listener_id = l.listener_id " +
    "JOIN sys.dm_hadr_database_replica_states drs ON drs.group_id = l.group_id " +
    "WHERE drs.database_id = DB_ID() AND drs.is_local = 1",
  mirroring:
    "SELECT CASE WHEN mirroring_guid IS NULL THEN 0 ELSE 1 END AS Mirrored FROM sys.database_mirroring WHERE database_id = DB_ID()",
  logShipping: "SELECT COUNT(*) AS Primaries FROM msdb.dbo.log_shipping_primary_databases WHERE primary_database = DB_NAME()",
  replication:
    "SELECT CAST(is_published AS int) AS IsPublished, CAST(is_merge_published AS int) AS IsMergePublished " +
    "FROM sys.databases WHERE database_id = DB_ID()",
} as const;

type ProbeName = keyof typeof HA_SQL;

/** The grant that lets octoha answer each probe; `login` is the SQL login from the connection string. */
function grantFor(probe: ProbeName, numbers: number[], login: string): string | undefined {
  const who = `[${login.replace(/]/g, "]]")}]`;
  if (numbers.includes(262)) return `GRANT VIEW DATABASE STATE TO ${who}; (in the Octopus database)`;
  if (probe === "logShipping") {
    return `USE msdb; CREATE USER ${who} FOR LOGIN ${who}; GRANT SELECT ON dbo.log_shipping_primary_databases TO ${who};`;
  }
  return `GRANT VIEW SERVER STATE TO ${who}; (in master)`;
}

type Outcome<T> = { ok: true; rows: T[] } | { ok: false; missing: boolean; unknown: UnknownProbe };

async function ask<T>(reader: SqlReader, probe: ProbeName, login: string): Promise<Outcome<T>> {
  try {
    return { ok: true, rows: await reader.rows<T>(HA_SQL[probe]) };
  } catch (error) {
    if ((error as { code?: unknown }).code === "INTERRUPTED") throw error;
    const numbers = sqlErrorNumbers(error);
    const shown = numbers.length > 0 ? `SQL Server error ${numbers.join("/")}` : "the query failed";
    if (numbers.some((n) => PERMISSION_NUMBERS.has(n))) {
      return {
        ok: false,
        missing: false,
        unknown: { probe, reason: `permission denied (${shown})`, grant: grantFor(probe, numbers, login) },
      };
    }
    // 208: the object does not exist on this edition (Azure SQL Database has no msdb log shipping tables).
    return { ok: false, missing: numbers.includes(208), unknown: { probe, reason: `${shown}` } };
  }
}

export interface HaProbeInput {
  server: string;
  multiSubnetFailover: boolean;
  login: string;
}

export async function probeDatabaseHa(reader: SqlReader, input: HaProbeInput): Promise<DatabaseHaFacts> {
  const facts: DatabaseHaFacts = { connection: { server: input.server, multiSubnetFailover: input.multiSubnetFailover }, unknown: [] };
  const server = await ask<{ EngineEdition: number | null; IsClustered: number | null; IsHadrEnabled: number | null }>(
    reader,
    "server",
    input.login,
  );
  if (!server.ok) {
    facts.unknown.push(server.unknown);
    return facts;
  }
  const row = server.rows[0];
  facts.engineEdition = row?.EngineEdition ?? undefined;
  await probeReplication(reader, input.login, facts);
  if (facts.engineEdition === 5 || facts.engineEdition === 8) {
    facts.kind = facts.engineEdition === 5 ? "azure-sql-database" : "managed-instance";
    return facts;
  }
  if (row?.IsHadrEnabled === 1) await probeAvailabilityGroup(reader, input.login, facts);
  await probeMirroringAndLogShipping(reader, input.login, facts);
  const agUnknown = facts.unknown.some((u) => u.probe === "availabilityGroup");
  if (facts.availabilityGroup) facts.kind = "availability-group";
  else if (row?.IsClustered === 1) facts.kind = "failover-cluster-instance";
  else if (!agUnknown) facts.kind = "standalone";
  return facts;
}

async function probeReplication(reader: SqlReader, login: string, facts: DatabaseHaFacts): Promise<void> {
  const r = await ask<{ IsPublished: number; IsMergePublished: number }>(reader, "replication", login);
  if (r.ok) facts.published = r.rows.some((x) => x.IsPublished === 1 || x.IsMergePublished === 1);
  else facts.unknown.push(r.unknown);
}

async function probeAvailabilityGroup(reader: SqlReader, login: string, facts: DatabaseHaFacts): Promise<void> {
  const ag = await ask<{ AgName: string; Replicas: number; SyncReplicas: number }>(reader, "availabilityGroup", login);
  if (!ag.ok) {
    facts.unknown.push(ag.unknown);
    return;
  }
  const first = ag.rows[0];
  if (!first) return;
  facts.availabilityGroup = { name: first.AgName, replicas: first.Replicas, synchronousReplicas: first.SyncReplicas };
  const listeners = await ask<{ DnsName: string; IpAddress: string; SubnetIp: string }>(reader, "listeners", login);
  if (listeners.ok) facts.availabilityGroup.listeners = groupListeners(listeners.rows);
  else facts.unknown.push(listeners.unknown);
}

function groupListeners(rows: { DnsName: string; IpAddress: string; SubnetIp: string }[]): AvailabilityGroupFacts["listeners"] {
  const byName = new Map<string, { ips: Set<string>; subnets: Set<string> }>();
  for (const row of rows) {
    const entry = byName.get(row.DnsName) ?? { ips: new Set<string>(), subnets: new Set<string>() };
    entry.ips.add(row.IpAddress);
    entry.subnets.add(row.SubnetIp);
    byName.set(row.DnsName, entry);
  }
  return [...byName].map(([dnsName, e]) => ({ dnsName, subnets: e.subnets.size, ipAddresses: [...e.ips] }));
}

async function probeMirroringAndLogShipping(reader: SqlReader, login: string, facts: DatabaseHaFacts): Promise<void> {
  const mirroring = await ask<{ Mirrored: number }>(reader, "mirroring", login);
  if (mirroring.ok) facts.mirroring = mirroring.rows.some((x) => x.Mirrored === 1);
  else facts.unknown.push(mirroring.unknown);
  const shipping = await ask<{ Primaries: number }>(reader, "logShipping", login);
  if (shipping.ok) facts.logShipping = shipping.rows.some((x) => x.Primaries > 0);
  else if (shipping.missing) facts.logShipping = false;
  else facts.unknown.push(shipping.unknown);
}
