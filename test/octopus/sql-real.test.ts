/**
 * Optional: the SQL inventory against a real SQL Server. Runs only when OCTOHA_TEST_MSSQL holds a
 * connection string to a THROW-AWAY database (the test drops and recreates the Octopus tables).
 * The inventory itself only reads; the writes here are the test's own set-up.
 */
import { readFile } from "node:fs/promises";
import sql from "mssql";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createInventory } from "../../src/octopus/sql/inventory.js";
import type { DatabaseInventory } from "../../src/octopus/types.js";
import type { ClusterState } from "@octoha/standin";
import { octopusRows, octopusTables, type ColumnDef, type TableDef } from "@octoha/standin";
import { describeInventoryContract } from "./contracts/inventory-contract.js";

const connectionString = process.env.OCTOHA_TEST_MSSQL;
const SKIP_NOTE = "skipped: set OCTOHA_TEST_MSSQL to the connection string of a throw-away SQL Server database to run";

async function withPool<T>(fn: (pool: sql.ConnectionPool) => Promise<T>): Promise<T> {
  const pool = new sql.ConnectionPool(connectionString!);
  pool.on("error", () => undefined);
  await pool.connect();
  try {
    return await fn(pool);
  } finally {
    await pool.close();
  }
}

function columnDdl(c: ColumnDef): string {
  const type = c.sqlType === "nvarchar" ? `nvarchar(${c.maxLength === -1 ? "max" : String(c.maxLength)})` : c.sqlType;
  return `[${c.name}] ${type} ${c.nullable ? "NULL" : "NOT NULL"}${c.name === "Id" ? " PRIMARY KEY" : ""}`;
}

function sqlType(c: ColumnDef) {
  return c.wire === "nvarchar" ? sql.NVarChar(sql.MAX) : c.wire === "int" ? sql.Int : c.wire === "bit" ? sql.Bit : sql.DateTimeOffset;
}

/** Recreates the tables of the seed's schema variant (the stand-in's definitions) and loads its rows. */
async function loadSeed(pool: sql.ConnectionPool, seed: ClusterState): Promise<void> {
  const tables: TableDef[] = octopusTables(seed.schema);
  const rows = octopusRows(seed);
  for (const t of [...tables, { name: "OctopusServerNodes", columns: [] }]) {
    await pool.request().batch(`IF OBJECT_ID(N'dbo.${t.name}', N'U') IS NOT NULL DROP TABLE dbo.[${t.name}]`);
  }
  for (const t of tables) {
    await pool.request().batch(`CREATE TABLE dbo.[${t.name}] (${t.columns.map(columnDdl).join(", ")})`);
    for (const row of rows.get(t.name) ?? []) {
      const request = pool.request();
      for (const c of t.columns) {
        const v = row[c.name];
        request.input(c.name, sqlType(c), c.wire === "datetimeoffset" && typeof v === "string" ? new Date(v) : (v ?? null));
      }
      await request.query(
        `INSERT INTO dbo.[${t.name}] (${t.columns.map((c) => `[${c.name}]`).join(", ")}) VALUES (${t.columns.map((c) => `@${c.name}`).join(", ")})`,
      );
    }
  }
}

describe.skipIf(!connectionString)(`SQL inventory against a real SQL Server (${SKIP_NOTE})`, () => {
  describe("the documented schema script", () => {
    let inventory: DatabaseInventory;
    beforeAll(async () => {
      const script = await readFile(new URL("./octopus-schema.sql", import.meta.url), "utf8");
      await withPool(async (pool) => {
        for (const batch of script.split(/^\s*GO\s*$/im).filter((b) => b.trim())) await pool.request().batch(batch);
      });
      inventory = createInventory(connectionString!, { pageSize: 3 });
    });
    afterAll(async () => inventory?.close());

    test("is recognised as the 2018+ spelling", async () => {
      expect(await inventory.probe()).toMatchObject({
        taskNodeColumn: "ServerNodeId",
        nodeTable: "OctopusServerNode",
        hasNuGetPackage: true,
        hasSpaceId: true,
      });
    });

    test("lists its tasks across pages, with completion times normalised to UTC", async () => {
      const tasks = [];
      for await (const t of inventory.tasks()) tasks.push(t);
      expect(tasks.map((t) => t.id)).toEqual(["ServerTasks-1", "ServerTasks-2", "ServerTasks-3", "ServerTasks-4"]);
      expect(tasks[1]).toEqual({
        id: "ServerTasks-2",
        state: "Failed",
        serverNode: "OctopusServerNodes-OCTO2",
        completedTime: "2025-12-31T22:02:30.000Z",
      });
    });

    test("reports its nodes and whether the connection is encrypted", async () => {
      expect(await inventory.nodes()).toEqual([
        { id: "OctopusServerNodes-OCTO1", name: "OCTO1", maxConcurrentTasks: 5, isDraining: false },
        { id: "OctopusServerNodes-OCTO2", name: "OCTO2", maxConcurrentTasks: 6, isDraining: true },
      ]);
      expect(typeof (await inventory.connectionInfo()).encrypted).toBe("boolean");
    });
  });

  describeInventoryContract("mssql adapter against a real SQL Server", async (seed) => {
    await withPool((pool) => loadSeed(pool, seed));
    const inventory = createInventory(connectionString!, { pageSize: 5 });
    return { inventory, cleanup: () => inventory.close() };
  });
});
