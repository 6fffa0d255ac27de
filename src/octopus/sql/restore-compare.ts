/**
 * Is the target database a faithful restore of the current one? Read-only on both (a fixed list of
 * SELECTs, one per request): the schema version (the highest SchemaVersions row), the installation's
 * identity (its OctopusServerInstallationHistory rows: when and on which node each version was
 * installed, which another installation does not share), and the row counts of the tables octoha
 * reads. Taken while every node is stopped, any difference means the restore is not of this database
 * as it is now. Where Octopus keeps its InstallationId is not known, so it is not read (research §5).
 */
import { createHash } from "node:crypto";
import type { SqlReader } from "./ha-probe.js";
import { sqlErrorNumbers } from "./ha-probe.js";

/** The tables whose rows are counted, in report order; a table neither database has is skipped. */
export const COUNTED_TABLES = [
  "ServerTask",
  "OctopusServerNode",
  "OctopusServerNodes",
  "NuGetPackage",
  "Event",
  "KeyAllocation",
  "SchemaVersions",
  "OctopusServerInstallationHistory",
] as const;
export type CountedTable = (typeof COUNTED_TABLES)[number];

export const RESTORE_SQL = {
  tables:
    "SELECT TABLE_NAME FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = N'dbo' AND TABLE_NAME IN " +
    `(${COUNTED_TABLES.map((t) => `N'${t}'`).join(", ")})`,
  schemaVersion: "SELECT TOP 1 [Id], [ScriptName] FROM [dbo].[SchemaVersions] ORDER BY [Id] DESC",
  installations: "SELECT [Id], [Installed], [Node], [Version] FROM [dbo].[OctopusServerInstallationHistory] ORDER BY [Id]",
  keyAllocation: "SELECT [CollectionName], [Allocated] FROM [dbo].[KeyAllocation] ORDER BY [CollectionName]",
  count: (table: CountedTable) => `SELECT COUNT(*) AS [Rows] FROM [dbo].[${table}]`,
  heartbeats: (table: "OctopusServerNode" | "OctopusServerNodes") => `SELECT [Name], [LastSeen] FROM [dbo].[${table}] ORDER BY [Name]`,
  /**
   * Which database this connection reached, as the server itself says (no permission needed: a login
   * always sees its own database's sys.databases row). Two connection strings spelled differently
   * (localhost or 127.0.0.1, a space after the comma, no Database=) that reach one database get the same answer.
   */
  location:
    "SELECT @@SERVERNAME AS [ServerName], CAST(SERVERPROPERTY('MachineName') AS nvarchar(128)) AS [MachineName], " +
    "CAST(SERVERPROPERTY('InstanceName') AS nvarchar(128)) AS [InstanceName], DB_NAME() AS [DatabaseName], " +
    "DB_ID() AS [DatabaseId], [create_date] AS [CreateDate] FROM sys.databases WHERE [database_id] = DB_ID()",
} as const;

/** The database a connection reached, as the server names it, and how the connection string spelled it (no secret). */
export interface DatabaseLocation {
  serverName: string;
  machineName: string;
  instanceName: string;
  databaseName: string;
  databaseId: number;
  /** sys.databases.create_date (a restore's is when it was restored). */
  created: string;
  /** Server= and Database= as the connection string gives them. */
  spelled: string;
}

export interface DatabaseSnapshot {
  /** Which of COUNTED_TABLES exist (as COUNTED_TABLES spells them). */
  tables: CountedTable[];
  /** The highest SchemaVersions row; undefined when the table is missing or empty. */
  schemaVersion?: { id: number; script: string };
  /** The installation history: how many installs, the first one, and a digest of every row. */
  identity?: { installs: number; first: string; digest: string };
  rowCounts: Partial<Record<CountedTable, number>>;
  /** KeyAllocation: the last Id handed out per collection (a restore from before the last insert has a lower one). */
  keyAllocation?: Record<string, number>;
  /** Which database the connection reached; undefined when the server would not say. */
  location?: DatabaseLocation;
}

const iso = (v: unknown): string => (v instanceof Date ? v.toISOString() : v === null || v === undefined ? "" : String(v));

/** Which of COUNTED_TABLES exist. */
export async function readSnapshotTables(reader: SqlReader): Promise<{ tables: CountedTable[] }> {
  const found = new Set((await reader.rows<{ TABLE_NAME: string }>(RESTORE_SQL.tables)).map((r) => r.TABLE_NAME.toLowerCase()));
  return { tables: COUNTED_TABLES.filter((t) => found.has(t.toLowerCase())) };
}

/** Which database the reader's connection reached; undefined when the server does not answer the question. */
export async function readLocation(reader: SqlReader, spelled: string): Promise<DatabaseLocation | undefined> {
  type Row = {
    ServerName: string | null;
    MachineName: string | null;
    InstanceName: string | null;
    DatabaseName: string | null;
    DatabaseId: number | null;
    CreateDate: unknown;
  };
  let row: Row | undefined;
  try {
    row = (await reader.rows<Row>(RESTORE_SQL.location))[0];
  } catch (error) {
    if ((error as { code?: unknown }).code === "INTERRUPTED") throw error;
    return undefined;
  }
  if (!row) return undefined;
  return {
    serverName: row.ServerName ?? "",
    machineName: row.MachineName ?? "",
    instanceName: row.InstanceName ?? "",
    databaseName: row.DatabaseName ?? "",
    databaseId: Number(row.DatabaseId),
    created: iso(row.CreateDate),
    spelled,
  };
}

/** Reads one database's snapshot; every query is a SELECT. `spelled`: Server= and Database= as its connection string gives them. */
export async function readSnapshot(reader: SqlReader, spelled?: string): Promise<DatabaseSnapshot> {
  const { tables } = await readSnapshotTables(reader);
  const snapshot: DatabaseSnapshot = { tables, rowCounts: {} };
  if (spelled !== undefined) {
    const location = await readLocation(reader, spelled);
    if (location) snapshot.location = location;
  }
  for (const t of tables) snapshot.rowCounts[t] = Number((await reader.rows<{ Rows: number }>(RESTORE_SQL.count(t)))[0]?.Rows ?? 0);
  if (tables.includes("SchemaVersions")) {
    const top = (await reader.rows<{ Id: number; ScriptName: string }>(RESTORE_SQL.schemaVersion))[0];
    if (top) snapshot.schemaVersion = { id: Number(top.Id), script: top.ScriptName };
  }
  if (tables.includes("KeyAllocation")) {
    const rows = await reader.rows<{ CollectionName: string; Allocated: number }>(RESTORE_SQL.keyAllocation);
    snapshot.keyAllocation = Object.fromEntries(rows.map((r) => [r.CollectionName, Number(r.Allocated)]));
  }
  if (tables.includes("OctopusServerInstallationHistory")) {
    type Row = { Id: string; Installed: unknown; Node: string | null; Version: string | null };
    const rows = await reader.rows<Row>(RESTORE_SQL.installations);
    const lines = rows.map((r) => [r.Id, iso(r.Installed), r.Node ?? "", r.Version ?? ""].join("\t"));
    const first = rows[0];
    snapshot.identity = {
      installs: rows.length,
      first: first ? `${first.Version ?? "?"} installed ${iso(first.Installed)} on ${first.Node ?? "?"}` : "(no installs recorded)",
      digest: createHash("sha256").update(lines.join("\n")).digest("hex").slice(0, 16),
    };
  }
  return snapshot;
}

export type RestoreDifferenceKind = "same-database" | "table-missing" | "schema-version" | "identity" | "key-allocation" | "row-count";

/**
 * Which side has more (rows, or Ids handed out): "current" is a backup taken before the last changes;
 * "target" means something wrote into the target after its restore (it may be the database the nodes use);
 * "both": each was written after the restore.
 */
export type Ahead = "current" | "target" | "both";

export interface RestoreDifference {
  kind: RestoreDifferenceKind;
  table?: string;
  current: string;
  target: string;
  ahead?: Ahead;
}

/** One line per check, for reports: what was compared and whether it matched. */
export interface RestoreCheck {
  check: string;
  passed: boolean;
  current: string;
  target: string;
  /** Row counts and Id counters that differ: which side is ahead. */
  ahead?: Ahead;
}

const describeVersion = (v: DatabaseSnapshot["schemaVersion"]) => (v ? `#${v.id} ${v.script}` : "(none)");
const describeIdentity = (i: DatabaseSnapshot["identity"]) =>
  i ? `${i.installs} install record(s), first ${i.first} (digest ${i.digest})` : "(no OctopusServerInstallationHistory)";

/** The server, instance and database a location names, with when the database was created. */
export function describeLocation(l: DatabaseLocation): string {
  const instance = l.instanceName ? `\\${l.instanceName}` : "";
  return `${l.spelled} reaches database ${l.databaseName} (id ${l.databaseId}, created ${l.created}) on server ${l.serverName} (machine ${l.machineName}${instance})`;
}

/**
 * One database reached twice: the server, instance, database name and id, and creation time the server
 * reports are all equal. A restore is another database (another server, or another id and creation time on
 * the same server), whatever the spelling of either string.
 */
export function sameLocation(a: DatabaseLocation, b: DatabaseLocation): boolean {
  const same = (x: string, y: string) => x.toLowerCase() === y.toLowerCase();
  return (
    same(a.serverName, b.serverName) &&
    same(a.machineName, b.machineName) &&
    same(a.instanceName, b.instanceName) &&
    same(a.databaseName, b.databaseName) &&
    a.databaseId === b.databaseId &&
    a.created === b.created
  );
}

/** Every check made, passed or not, in a fixed order (another database, tables, schema version, identity, each table's rows). */
export function compareSnapshots(current: DatabaseSnapshot, target: DatabaseSnapshot): RestoreCheck[] {
  const checks: RestoreCheck[] = [];
  if (current.location && target.location)
    checks.push({
      check: "another database",
      passed: !sameLocation(current.location, target.location),
      current: describeLocation(current.location),
      target: describeLocation(target.location),
    });
  const missing = current.tables.filter((t) => !target.tables.includes(t));
  checks.push({
    check: "tables",
    passed: missing.length === 0,
    current: current.tables.join(", "),
    target: missing.length === 0 ? "all present" : `missing ${missing.join(", ")}`,
  });
  checks.push({
    check: "schema version",
    passed: describeVersion(current.schemaVersion) === describeVersion(target.schemaVersion),
    current: describeVersion(current.schemaVersion),
    target: describeVersion(target.schemaVersion),
  });
  checks.push({
    check: "installation identity",
    passed: current.identity?.digest === target.identity?.digest,
    current: describeIdentity(current.identity),
    target: describeIdentity(target.identity),
  });
  if (current.keyAllocation && target.keyAllocation) checks.push(keyAllocationCheck(current.keyAllocation, target.keyAllocation));
  for (const t of current.tables) {
    if (!target.tables.includes(t)) continue;
    const [a, b] = [current.rowCounts[t] ?? 0, target.rowCounts[t] ?? 0];
    checks.push({
      check: `rows in ${t}`,
      passed: a === b,
      current: String(a),
      target: String(b),
      ...(a === b ? {} : { ahead: a > b ? "current" : "target" }),
    });
  }
  return checks;
}

/** The Id counters per collection; a difference names the first few collections and both values. */
function keyAllocationCheck(current: Record<string, number>, target: Record<string, number>): RestoreCheck {
  const names = [...new Set([...Object.keys(current), ...Object.keys(target)])].sort();
  const differ = names.filter((n) => current[n] !== target[n]);
  const show = (values: Record<string, number>) =>
    differ.length === 0
      ? `${names.length} collection(s) equal`
      : `${differ
          .slice(0, 5)
          .map((n) => `${n} ${values[n] ?? "(none)"}`)
          .join(", ")}${differ.length > 5 ? ` and ${differ.length - 5} more` : ""}`;
  // A collection missing on one side counts as 0 there: Ids only grow.
  const higher = (a: Record<string, number>, b: Record<string, number>) => differ.some((n) => (a[n] ?? 0) > (b[n] ?? 0));
  const [currentAhead, targetAhead] = [higher(current, target), higher(target, current)];
  const ahead: Ahead | undefined = currentAhead && targetAhead ? "both" : targetAhead ? "target" : currentAhead ? "current" : undefined;
  return {
    check: "key allocation",
    passed: differ.length === 0,
    current: show(current),
    target: show(target),
    ...(ahead ? { ahead } : {}),
  };
}

/** The checks that failed, as differences naming the table and both values. */
export function restoreDifferences(checks: RestoreCheck[]): RestoreDifference[] {
  return checks
    .filter((c) => !c.passed)
    .map((c) => {
      if (c.check === "another database") return { kind: "same-database", current: c.current, target: c.target };
      if (c.check === "tables") return { kind: "table-missing", current: c.current, target: c.target };
      if (c.check === "schema version") return { kind: "schema-version", current: c.current, target: c.target };
      if (c.check === "installation identity") return { kind: "identity", current: c.current, target: c.target };
      const ahead = c.ahead ? { ahead: c.ahead } : {};
      if (c.check === "key allocation") return { kind: "key-allocation", current: c.current, target: c.target, ...ahead };
      return { kind: "row-count", table: c.check.replace(/^rows in /, ""), current: c.current, target: c.target, ...ahead };
    });
}

/** Each node's heartbeat (OctopusServerNode.LastSeen) by name; undefined when the schema has no LastSeen there (2019+ moved it). */
export async function readHeartbeats(reader: SqlReader, tables: CountedTable[]): Promise<Record<string, string> | undefined> {
  const table = tables.includes("OctopusServerNode")
    ? "OctopusServerNode"
    : tables.includes("OctopusServerNodes")
      ? "OctopusServerNodes"
      : undefined;
  if (!table) return undefined;
  try {
    const rows = await reader.rows<{ Name: string; LastSeen: unknown }>(RESTORE_SQL.heartbeats(table));
    return Object.fromEntries(rows.map((r) => [r.Name, iso(r.LastSeen)]));
  } catch (error) {
    // 207: no LastSeen column in this schema (status data moved to OctopusServerNodeStatus, columns unknown).
    if (sqlErrorNumbers(error).includes(207)) return undefined;
    throw error;
  }
}

/**
 * The nodes whose heartbeat (LastSeen) is later in the target than in the current database. A restore copies
 * LastSeen as it was at the backup, and afterwards only the database a node runs on gets its heartbeats: a
 * later one in the target means the node ran on the target since (the move is done, or it was started on it).
 */
export function heartbeatingIntoTarget(
  current: Record<string, string>,
  target: Record<string, string>,
  nodes: readonly string[],
): { onTarget: string[]; onCurrent: string[] } {
  const t = (v: string | undefined) => (v === undefined || v === "" ? Number.NaN : Date.parse(v));
  const onTarget = nodes.filter((n) => t(target[n]) > t(current[n]));
  const onCurrent = nodes.filter((n) => t(current[n]) > t(target[n]));
  return { onTarget, onCurrent };
}
