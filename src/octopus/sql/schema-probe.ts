/**
 * Decides which spelling of the Octopus schema a database has, from INFORMATION_SCHEMA.COLUMNS
 * (reference/octopus.md §1.3, §1.4, §7 items 1–2), and refuses schemas octoha does not know:
 * reading the wrong column would make "0 missing" a lie.
 */
import { OctohaError } from "../../shared/errors.js";
import type { SchemaShape } from "../types.js";

/** The tables the probe reads; everything else in the database is irrelevant to the inventory. */
export const PROBED_TABLES = ["ServerTask", "OctopusServerNode", "OctopusServerNodes", "OctopusServerNodeStatus", "NuGetPackage"] as const;

/** SchemaShape plus the optional node columns, so the node query selects only what exists. */
export interface ProbedSchema extends SchemaShape {
  nodeHasTaskCap: boolean;
  nodeHasDrainFlag: boolean;
  packageHasSpaceId: boolean;
}

/** table name (as found) → its column names (as found). */
export type FoundColumns = Map<string, string[]>;

export function foundColumns(rows: { TABLE_NAME: string; COLUMN_NAME: string }[]): FoundColumns {
  const found: FoundColumns = new Map();
  for (const r of rows) {
    const table = PROBED_TABLES.find((t) => t.toLowerCase() === r.TABLE_NAME.toLowerCase()) ?? r.TABLE_NAME;
    found.set(table, [...(found.get(table) ?? []), r.COLUMN_NAME]);
  }
  return found;
}

function has(columns: string[] | undefined, name: string): boolean {
  return (columns ?? []).some((c) => c.toLowerCase() === name.toLowerCase());
}

function describeFound(found: FoundColumns): string {
  if (found.size === 0) return "none of the Octopus tables (ServerTask, OctopusServerNode, NuGetPackage) in schema dbo";
  return [...found].map(([t, cols]) => `${t}(${cols.join(", ")})`).join("; ");
}

function unrecognised(problem: string, found: FoundColumns): OctohaError {
  return new OctohaError(`The Octopus database schema is not one octoha recognises: ${problem}`, {
    code: "SCHEMA_UNRECOGNISED",
    behaviour: "fatal",
    hint:
      `Found: ${describeFound(found)}.\n` +
      "Expected: ServerTask(Id, State, CompletedTime and exactly one of ServerNode [3.x] or ServerNodeId [2018+]) and OctopusServerNode(Id, Name) or OctopusServerNodes(Id, Name).\n" +
      "Check that the connection string names the Octopus database (Database=…), and that this Octopus version is supported; octoha will not guess at an unknown schema.",
  });
}

export function decideSchema(found: FoundColumns): ProbedSchema {
  const task = found.get("ServerTask");
  if (!task) throw unrecognised("table dbo.ServerTask is missing", found);
  for (const column of ["Id", "State", "CompletedTime"]) {
    if (!has(task, column)) throw unrecognised(`ServerTask has no ${column} column`, found);
  }
  const byName = has(task, "ServerNode");
  const byId = has(task, "ServerNodeId");
  if (byName === byId) {
    throw unrecognised(
      byName
        ? "ServerTask has both ServerNode and ServerNodeId: ambiguous"
        : "ServerTask has neither ServerNode (3.x) nor ServerNodeId (2018+)",
      found,
    );
  }
  const nodeTable = found.has("OctopusServerNode")
    ? "OctopusServerNode"
    : found.has("OctopusServerNodes")
      ? "OctopusServerNodes"
      : undefined;
  if (!nodeTable) throw unrecognised("neither OctopusServerNode nor OctopusServerNodes exists", found);
  const node = found.get(nodeTable);
  if (!has(node, "Id") || !has(node, "Name")) throw unrecognised(`${nodeTable} lacks Id or Name`, found);
  const nuget = found.get("NuGetPackage");
  const hasNuGetPackage = nuget !== undefined && has(nuget, "Id") && has(nuget, "PackageId") && has(nuget, "Version");
  return {
    taskNodeColumn: byName ? "ServerNode" : "ServerNodeId",
    nodeTable,
    hasNodeStatusTable: found.has("OctopusServerNodeStatus"),
    hasSpaceId: has(task, "SpaceId"),
    hasNuGetPackage,
    nodeHasTaskCap: has(node, "MaxConcurrentTasks"),
    nodeHasDrainFlag: has(node, "IsInMaintenanceMode"),
    packageHasSpaceId: has(nuget, "SpaceId"),
  };
}
