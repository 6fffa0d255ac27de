/**
 * The Octopus tables the stand-in's SQL endpoint holds, per SchemaVariant, with the columns
 * reference/octopus.md §1 documents (SCH3 for "3.x", SCH18 plus SpaceId for "2018+"), and the rows
 * materialised from a ClusterState. Tables whose columns are UNKNOWN (OctopusServerNodeStatus)
 * are deliberately absent: the stand-in does not invent a shape.
 */
import type { ClusterState, SchemaVariant, SimNode } from "./model.js";
import type { SqlColumnType } from "./tds/handler.js";

export interface ColumnDef {
  name: string;
  /** As SQL Server declares it (INFORMATION_SCHEMA.COLUMNS DATA_TYPE and length). */
  sqlType: string;
  maxLength?: number;
  nullable: boolean;
  wire: SqlColumnType;
}

export interface TableDef {
  name: string;
  columns: ColumnDef[];
}

const nv = (name: string, maxLength: number, nullable = false): ColumnDef => ({
  name,
  sqlType: "nvarchar",
  maxLength,
  nullable,
  wire: "nvarchar",
});
const dto = (name: string, nullable = false): ColumnDef => ({ name, sqlType: "datetimeoffset", nullable, wire: "datetimeoffset" });
const int = (name: string, nullable = false): ColumnDef => ({ name, sqlType: "int", nullable, wire: "int" });
const bit = (name: string): ColumnDef => ({ name, sqlType: "bit", nullable: false, wire: "bit" });
/** nvarchar(max) reports CHARACTER_MAXIMUM_LENGTH -1, as SQL Server does. */
const MAX = -1;

export function octopusTables(variant: SchemaVariant): TableDef[] {
  const modern = variant === "2018+";
  const serverTask: TableDef = {
    name: "ServerTask",
    columns: [
      nv("Id", 50),
      nv("Name", modern ? 50 : 20),
      nv("Description", MAX),
      dto("QueueTime"),
      dto("StartTime", true),
      dto("CompletedTime", true),
      nv("ErrorMessage", MAX, true),
      nv("ConcurrencyTag", 100, true),
      nv("State", 50),
      bit("HasPendingInterruptions"),
      bit("HasWarningsOrErrors"),
      modern ? nv("ServerNodeId", 250, true) : nv("ServerNode", 200, true),
      nv("ProjectId", 50, true),
      nv("EnvironmentId", 50, true),
      ...(modern ? [nv("TenantId", 50, true), int("DurationSeconds"), nv("SpaceId", 50, true)] : []),
      nv("JSON", MAX),
    ],
  };
  const node: TableDef = {
    name: "OctopusServerNode",
    columns: [
      nv("Id", modern ? 250 : 50),
      nv("Name", 200),
      dto("LastSeen"),
      ...(modern ? [] : [nv("Rank", 50)]),
      nv("JSON", MAX),
      int("MaxConcurrentTasks"),
      bit("IsInMaintenanceMode"),
    ],
  };
  const nuget: TableDef = {
    name: "NuGetPackage",
    columns: [nv("Id", 250), nv("PackageId", 100), nv("Version", 349), ...(modern ? [nv("SpaceId", 50)] : []), nv("JSON", MAX)],
  };
  const schemaVersions: TableDef = {
    name: "SchemaVersions",
    // Applied is datetime in SQL Server; the stand-in sends it as datetimeoffset (UTC).
    columns: [int("Id"), nv("ScriptName", 255), dto("Applied")],
  };
  const installs: TableDef = {
    name: "OctopusServerInstallationHistory",
    columns: [nv("Id", 50), dto("Installed"), nv("JSON", MAX), nv("Node", 200), nv("Version", 200)],
  };
  // KeyAllocation(CollectionName nvarchar(50), Allocated int): the Id counters (reference §1.1, VERIFIED for 2018).
  const keyAllocation: TableDef = { name: "KeyAllocation", columns: [nv("CollectionName", 50), int("Allocated")] };
  return [serverTask, node, nuget, schemaVersions, installs, keyAllocation];
}

export type Row = Record<string, unknown>;

/** Rows for each table, from the simulated cluster. Dates stay ISO strings; bits are 0/1. */
export function octopusRows(state: ClusterState): Map<string, Iterable<Row>> {
  const modern = state.schema === "2018+";
  const nodeId = (n: SimNode): string => (modern ? n.id : n.name);
  const byName = new Map(state.nodes.map((n) => [n.name.toLowerCase(), n]));
  const taskNode = (name: string | null): string | null => {
    if (name === null) return null;
    if (!modern) return name;
    const n = byName.get(name.toLowerCase());
    return n ? n.id : `OctopusServerNodes-${name}`;
  };
  const rows = new Map<string, Iterable<Row>>();
  rows.set(
    "ServerTask",
    (function* () {
      for (const t of state.tasks) {
        const duration =
          t.startTime && t.completedTime ? Math.max(0, Math.round((Date.parse(t.completedTime) - Date.parse(t.startTime)) / 1000)) : 0;
        yield {
          Id: t.id,
          Name: t.name,
          Description: t.description,
          QueueTime: t.queueTime,
          StartTime: t.startTime,
          CompletedTime: t.completedTime,
          ErrorMessage: null,
          ConcurrencyTag: null,
          State: t.state,
          HasPendingInterruptions: 0,
          HasWarningsOrErrors: t.state === "Failed" ? 1 : 0,
          [modern ? "ServerNodeId" : "ServerNode"]: taskNode(t.serverNode),
          ProjectId: null,
          EnvironmentId: null,
          TenantId: null,
          DurationSeconds: duration,
          SpaceId: t.spaceId,
          JSON: JSON.stringify({ IsSystem: t.isSystem }),
        };
      }
    })(),
  );
  rows.set(
    "OctopusServerNode",
    state.nodes.map((n, i) => ({
      Id: nodeId(n),
      Name: n.name,
      LastSeen: n.lastSeen,
      Rank: i === 0 ? "Leader" : "Follower",
      JSON: "{}",
      MaxConcurrentTasks: n.maxConcurrentTasks,
      IsInMaintenanceMode: n.isDraining ? 1 : 0,
    })),
  );
  rows.set(
    "NuGetPackage",
    state.packages.map((p) => ({ Id: p.id, PackageId: p.packageId, Version: p.version, SpaceId: p.spaceId, JSON: "{}" })),
  );
  const installed = state.installation?.installedAt ?? state.nodes[0]?.lastSeen ?? "2020-01-01T00:00:00.000Z";
  rows.set(
    "SchemaVersions",
    state.schemaVersions?.map((v) => ({ Id: v.id, ScriptName: v.scriptName, Applied: v.applied })) ?? [
      { Id: 1, ScriptName: `Octopus.Core.UpgradeScripts.Script${state.version}.sql`, Applied: installed },
    ],
  );
  rows.set(
    "OctopusServerInstallationHistory",
    state.nodes.map((n, i) => ({
      Id: `OctopusServerInstallationHistories-${i + 1}`,
      Installed: installed,
      JSON: "{}",
      Node: n.name,
      Version: state.version,
    })),
  );
  // The ServerTasks counter: the highest task number allocated (a restore taken earlier has a lower one).
  const allocated = Math.max(0, ...state.tasks.map((t) => Number(/-(\d+)$/.exec(t.id)?.[1] ?? 0)));
  rows.set("KeyAllocation", [{ CollectionName: "ServerTasks", Allocated: allocated }]);
  return rows;
}
