/** The stand-in's SQL engine (sql.js) answering through the TDS endpoint and the real mssql client. */
import sql from "mssql";
import { afterEach, describe, expect, test } from "vitest";
import type { ClusterState } from "../src/model.js";
import { createSqlEngine } from "../src/sql-engine.js";
import { makeClusterState, startSqlStandin } from "../src/testing/sql-cluster.js";

describe("stand-in SQL engine", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function open(state: ClusterState = makeClusterState()) {
    const { server, holder } = await startSqlStandin(state);
    const pool = new sql.ConnectionPool(server.connectionString);
    pool.on("error", () => undefined);
    cleanups.push(async () => {
      await pool.close();
      await server.close();
    });
    await pool.connect();
    return { pool, holder, server };
  }

  const columnsOf = async (pool: sql.ConnectionPool, table: string) =>
    (
      await pool
        .request()
        .input("t", sql.NVarChar(128), table)
        .query<{ COLUMN_NAME: string }>(
          "SELECT COLUMN_NAME FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = N'dbo' AND TABLE_NAME = @t ORDER BY ORDINAL_POSITION",
        )
    ).recordset.map((r) => r.COLUMN_NAME);

  test("a 3.x database names the task's node in ServerTask.ServerNode and has Rank on nodes", async () => {
    const { pool } = await open(makeClusterState({ schema: "3.x" }));
    const task = await columnsOf(pool, "ServerTask");
    expect(task).toContain("ServerNode");
    expect(task).not.toContain("ServerNodeId");
    expect(task).not.toContain("SpaceId");
    expect(await columnsOf(pool, "OctopusServerNode")).toEqual([
      "Id",
      "Name",
      "LastSeen",
      "Rank",
      "JSON",
      "MaxConcurrentTasks",
      "IsInMaintenanceMode",
    ]);
    const nodes = await pool.request().query("SELECT [Id], [Name], [Rank] FROM [dbo].[OctopusServerNode] ORDER BY [Name]");
    expect(nodes.recordset).toEqual([
      { Id: "OCTO1", Name: "OCTO1", Rank: "Leader" },
      { Id: "OCTO2", Name: "OCTO2", Rank: "Follower" },
    ]);
  });

  test("a 2018+ database stores the node Id in ServerTask.ServerNodeId", async () => {
    const { pool } = await open(makeClusterState({ schema: "2018+" }));
    const task = await columnsOf(pool, "ServerTask");
    expect(task).toEqual(expect.arrayContaining(["ServerNodeId", "SpaceId", "DurationSeconds"]));
    expect(task).not.toContain("ServerNode");
    const r = await pool
      .request()
      .input("id", sql.NVarChar(50), "ServerTasks-1")
      .query("SELECT [ServerNodeId], [State], [CompletedTime] FROM [dbo].[ServerTask] WHERE [Id] = @id");
    expect(r.recordset).toEqual([
      { ServerNodeId: "OctopusServerNodes-OCTO2", State: "Failed", CompletedTime: new Date("2026-01-01T00:01:30.000Z") },
    ]);
  });

  test("sys.tables and INFORMATION_SCHEMA.TABLES list the tables, and no invented OctopusServerNodeStatus", async () => {
    const { pool } = await open();
    const names = (await pool.request().query<{ name: string }>("SELECT name FROM sys.tables ORDER BY name")).recordset.map((r) => r.name);
    expect(names).toEqual([
      "KeyAllocation",
      "NuGetPackage",
      "OctopusServerInstallationHistory",
      "OctopusServerNode",
      "SchemaVersions",
      "ServerTask",
    ]);
    const t = await pool
      .request()
      .query("SELECT COUNT(*) AS n FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_NAME = N'OctopusServerNodeStatus'");
    expect(t.recordset).toEqual([{ n: 0 }]);
  });

  test("comparisons ignore case like SQL Server's default collation, and TOP limits rows", async () => {
    const { pool } = await open(makeClusterState({ tasks: 30 }));
    const r = await pool.request().query("SELECT TOP 3 [Id] FROM [dbo].[ServerTask] WHERE [State] = N'success' ORDER BY [Id]");
    expect(r.recordset).toHaveLength(3);
    const bit = await pool.request().query("SELECT [IsInMaintenanceMode] FROM dbo.OctopusServerNode WHERE Name = N'octo2'");
    expect(bit.recordset).toEqual([{ IsInMaintenanceMode: true }]);
  });

  test.each([
    ["SELECT * FROM [dbo].[ServerTasks]", 208, "Invalid object name 'dbo.ServerTasks'."],
    ["SELECT [ServerNodeName] FROM [dbo].[ServerTask]", 207, "Invalid column name 'ServerNodeName'."],
    ["SELECT GETDATE()", 195, "'GETDATE' is not a recognized built-in function name."],
    ["SELECT [Id] FROM [dbo].[ServerTask] WHERE [Id] = @nope", 137, 'Must declare the scalar variable "@nope".'],
    ["SELECT FROM [dbo].[ServerTask]", 102, "Incorrect syntax near 'FROM'."],
    ["SELECT [Name] + N'x' FROM dbo.OctopusServerNode", 50000, undefined],
    ["SELECT 1; SELECT 2", 50000, undefined],
    ["SELECT @@VERSION", 50000, undefined],
  ])("%s is answered with SQL Server error %i, not a guess", async (text, number, message) => {
    const { pool } = await open();
    const e = (await pool
      .request()
      .query(text)
      .catch((x: unknown) => x)) as { number?: number; message?: string };
    expect(e.number).toBe(number);
    if (message) expect(e.message).toBe(message);
    else expect(e.message).toMatch(/stand-in|syntax/);
  });

  test("writes are refused and change nothing", async () => {
    const { pool } = await open(makeClusterState({ tasks: 5 }));
    await expect(pool.request().query("DELETE FROM [dbo].[ServerTask]")).rejects.toMatchObject({ number: 50000 });
    await expect(pool.request().batch("UPDATE dbo.ServerTask SET State = N'Failed'")).rejects.toMatchObject({ number: 50000 });
    const r = await pool.request().query("SELECT COUNT(*) AS n FROM dbo.ServerTask WHERE State <> N'Failed'");
    expect(r.recordset[0].n).toBeGreaterThan(0);
  });

  test("the tables are rebuilt when the state's revision changes, and only then", async () => {
    const state = makeClusterState({ tasks: 4 });
    const { pool, holder } = await open(state);
    const count = async () => (await pool.request().query("SELECT COUNT(*) AS n FROM dbo.ServerTask")).recordset[0].n as number;
    expect(await count()).toBe(4);
    holder.state = makeClusterState({ tasks: 9 });
    expect(await count()).toBe(4);
    holder.revision++;
    expect(await count()).toBe(9);
  });

  test("with maxStalenessMs, a young snapshot is reused across revisions until it ages out", async () => {
    let clock = 0;
    let state = makeClusterState({ tasks: 2 });
    let revision = 1;
    const engine = createSqlEngine({ state: () => state, revision: () => revision }, { maxStalenessMs: 1000, now: () => clock });
    const count = async () => {
      const [set] = await engine.execute("SELECT COUNT(*) AS n FROM dbo.ServerTask", {});
      return [...(set!.rows as Iterable<unknown[]>)][0]![0];
    };
    expect(await count()).toBe(2);
    state = makeClusterState({ tasks: 3 });
    revision++;
    clock = 999;
    expect(await count()).toBe(2);
    clock = 1000;
    expect(await count()).toBe(3);
  });
});
