/**
 * Every SQL text the inventory sends: a fixed, read-only list (the stand-in answers exactly these).
 * Identifiers come only from the probe's closed set, never from input; values are parameters.
 * Large tables are read by keyset paging (`WHERE Id > @after ORDER BY Id`): each page is one short
 * request, so a dropped connection costs one page, memory stays at one page, and no server-side
 * cursor or paused stream holds locks while the consumer is slow.
 */
import { PROBED_TABLES, type ProbedSchema } from "./schema-probe.js";

export const PROBE_SQL =
  "SELECT TABLE_NAME, COLUMN_NAME FROM INFORMATION_SCHEMA.COLUMNS " +
  `WHERE TABLE_SCHEMA = N'dbo' AND TABLE_NAME IN (${PROBED_TABLES.map((t) => `N'${t}'`).join(", ")}) ` +
  "ORDER BY TABLE_NAME, ORDINAL_POSITION";

export function taskPageSql(schema: ProbedSchema, completedOnly: boolean): string {
  return (
    `SELECT TOP (@batch) [Id], [State], [${schema.taskNodeColumn}] AS [ServerNode], [CompletedTime] FROM [dbo].[ServerTask] ` +
    `WHERE [Id] > @after${completedOnly ? " AND [CompletedTime] IS NOT NULL" : ""} ORDER BY [Id]`
  );
}

export function packagePageSql(schema: ProbedSchema): string {
  const space = schema.packageHasSpaceId ? "[SpaceId]" : "NULL AS [SpaceId]";
  return `SELECT TOP (@batch) [Id], [PackageId], [Version], ${space} FROM [dbo].[NuGetPackage] WHERE [Id] > @after ORDER BY [Id]`;
}

export function nodesSql(schema: ProbedSchema): string {
  const columns = [
    "[Id]",
    "[Name]",
    ...(schema.nodeHasTaskCap ? ["[MaxConcurrentTasks]"] : []),
    ...(schema.nodeHasDrainFlag ? ["[IsInMaintenanceMode]"] : []),
  ];
  return `SELECT ${columns.join(", ")} FROM [dbo].[${schema.nodeTable}] ORDER BY [Name]`;
}
