/** The mssql inventory adapter against the TDS stand-in, over real loopback sockets. */
import { afterEach, describe, expect, test } from "vitest";
import { createInventory, inventoryFromEnv } from "../../src/octopus/sql/inventory.js";
import { OctohaError, isRetryable } from "../../src/shared/errors.js";
import { redactor } from "../../src/shared/redact.js";
import { fakeClock } from "../helpers/fake-clock.js";
import { startTdsServer, type SqlHandler, type TdsServer } from "@octoha/standin";
import { makeClusterState, SQL_DATABASE, SQL_PASSWORD, SQL_USER, startSqlStandin } from "@octoha/standin/testing";
import { describeInventoryContract } from "./contracts/inventory-contract.js";

describeInventoryContract("mssql adapter through the TDS stand-in", async (seed) => {
  const { server } = await startSqlStandin(seed);
  // A small page size so the contract's few rows still cross page boundaries.
  const inventory = createInventory(server.connectionString, { pageSize: 5 });
  return {
    inventory,
    cleanup: async () => {
      await inventory.close();
      await server.close();
    },
  };
});

async function collectCount(it: AsyncIterable<unknown>): Promise<number> {
  let n = 0;
  for await (const _ of it) n++;
  return n;
}

async function failureOf(p: Promise<unknown>): Promise<OctohaError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(OctohaError);
  return e as OctohaError;
}

describe("SQL inventory adapter", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  async function standin(seed = makeClusterState()): Promise<TdsServer> {
    const { server } = await startSqlStandin(seed);
    cleanups.push(() => server.close());
    return server;
  }
  function inventoryFor(connectionString: string, options: Parameters<typeof createInventory>[1] = {}) {
    const inv = createInventory(connectionString, options);
    cleanups.push(() => inv.close());
    return inv;
  }

  test("a page size that divides the task count exactly still lists every task once", async () => {
    const server = await standin(makeClusterState({ tasks: 20 }));
    const inv = inventoryFor(server.connectionString, { pageSize: 10 });
    const ids: string[] = [];
    for await (const t of inv.tasks()) ids.push(t.id);
    expect(ids).toHaveLength(20);
    expect(new Set(ids).size).toBe(20);
  });

  test("100k ServerTask rows stream in Id order through keyset pages", async () => {
    const seed = makeClusterState({ tasks: 100_000, schema: "2018+" });
    const server = await standin(seed);
    const inv = inventoryFor(server.connectionString);
    let count = 0;
    let previous = "";
    let outOfOrder = 0;
    for await (const t of inv.tasks()) {
      if (t.id <= previous) outOfOrder++;
      previous = t.id;
      count++;
    }
    expect(outOfOrder).toBe(0);
    expect(count).toBe(100_000);
  });

  test("a schema with neither ServerNode nor ServerNodeId is refused, naming what was found and expected", async () => {
    const handler: SqlHandler = {
      execute: (sql) => {
        if (!/INFORMATION_SCHEMA\.COLUMNS/i.test(sql)) return [{ columns: [{ name: "", type: "int" }], rows: [[1]] }];
        return [
          {
            columns: [
              { name: "TABLE_NAME", type: "nvarchar" },
              { name: "COLUMN_NAME", type: "nvarchar" },
            ],
            rows: [
              ["OctopusServerNode", "Id"],
              ["OctopusServerNode", "Name"],
              ["ServerTask", "Id"],
              ["ServerTask", "State"],
              ["ServerTask", "CompletedTime"],
              ["ServerTask", "ExecutingNode"],
            ],
          },
        ];
      },
    };
    const server = await startTdsServer({ user: SQL_USER, password: SQL_PASSWORD, database: SQL_DATABASE, handler });
    cleanups.push(() => server.close());
    const inv = inventoryFor(server.connectionString);
    const e = await failureOf(inv.probe());
    expect(e.code).toBe("SCHEMA_UNRECOGNISED");
    expect(e.behaviour).toBe("fatal");
    expect(e.message).toContain("neither ServerNode (3.x) nor ServerNodeId (2018+)");
    expect(e.describe()).toContain("ServerTask(Id, State, CompletedTime, ExecutingNode)");
    expect(e.describe()).toContain("Expected: ServerTask(");
    // Nothing is read from a schema that was refused.
    await expect(inv.tasks()[Symbol.asyncIterator]().next()).rejects.toMatchObject({ code: "SCHEMA_UNRECOGNISED" });
  });

  test("the 2019 split node table is read where it is, and a missing NuGetPackage table is an error, not an empty feed", async () => {
    const sent: string[] = [];
    const catalog = [
      ["ServerTask", "Id"],
      ["ServerTask", "State"],
      ["ServerTask", "CompletedTime"],
      ["ServerTask", "ServerNodeId"],
      ["OctopusServerNodes", "Id"],
      ["OctopusServerNodes", "Name"],
      ["OctopusServerNodeStatus", "Id"],
    ];
    const handler: SqlHandler = {
      execute: (text) => {
        sent.push(text);
        if (/INFORMATION_SCHEMA/.test(text))
          return [
            {
              columns: [
                { name: "TABLE_NAME", type: "nvarchar" },
                { name: "COLUMN_NAME", type: "nvarchar" },
              ],
              rows: catalog,
            },
          ];
        return [
          {
            columns: [
              { name: "Id", type: "nvarchar" },
              { name: "Name", type: "nvarchar" },
            ],
            rows: [["OctopusServerNodes-A", "A"]],
          },
        ];
      },
    };
    const server = await startTdsServer({ user: SQL_USER, password: SQL_PASSWORD, database: SQL_DATABASE, handler });
    cleanups.push(() => server.close());
    const inv = inventoryFor(server.connectionString);
    expect(await inv.probe()).toMatchObject({ nodeTable: "OctopusServerNodes", hasNodeStatusTable: true, hasNuGetPackage: false });
    expect(await inv.nodes()).toEqual([{ id: "OctopusServerNodes-A", name: "A" }]);
    expect(sent.at(-1)).toBe("SELECT [Id], [Name] FROM [dbo].[OctopusServerNodes] ORDER BY [Name]");
    const e = await failureOf(inv.packages()[Symbol.asyncIterator]().next());
    expect(e.code).toBe("SQL_SCHEMA_MISMATCH");
    expect(e.message).toContain("NuGetPackage");
    expect(sent.some((q) => q.includes("FROM [dbo].[NuGetPackage]"))).toBe(false);
  });

  test("a database that is not Octopus's (no ServerTask) is refused", async () => {
    const handler: SqlHandler = {
      execute: () => [
        {
          columns: [
            { name: "TABLE_NAME", type: "nvarchar" },
            { name: "COLUMN_NAME", type: "nvarchar" },
          ],
          rows: [],
        },
      ],
    };
    const server = await startTdsServer({ user: SQL_USER, password: SQL_PASSWORD, database: SQL_DATABASE, handler });
    cleanups.push(() => server.close());
    const e = await failureOf(inventoryFor(server.connectionString).probe());
    expect(e.code).toBe("SCHEMA_UNRECOGNISED");
    expect(e.message).toContain("dbo.ServerTask is missing");
  });

  test("a wrong password fails clearly as a login error and never shows the password", async () => {
    const server = await standin();
    const wrong = "Wr0ng-Passw0rd-shh";
    const cs = server.connectionString.replace(SQL_PASSWORD, wrong);
    const e = await failureOf(inventoryFor(cs).probe());
    expect(e.code).toBe("SQL_LOGIN_FAILED");
    expect(e.behaviour).toBe("fatal");
    expect(e.message).toContain(`Login failed for user '${SQL_USER}'`);
    const everything = `${e.describe()} ${String((e.cause as Error).message)} ${JSON.stringify(e)}`;
    expect(everything).not.toContain(wrong);
    expect(everything).not.toContain(SQL_PASSWORD);
  });

  test("a wrong database name fails clearly and names where to fix it", async () => {
    const server = await standin();
    const cs = server.connectionString.replace(`Database=${SQL_DATABASE}`, "Database=OctopusTypo");
    const inv = inventoryFor(cs, { envVar: "OCTOHA_SQL" });
    const e = await failureOf(inv.nodes());
    expect(e.code).toBe("SQL_DATABASE_NOT_FOUND");
    expect(e.message).toContain('Cannot open database "OctopusTypo"');
    expect(e.describe()).toContain("OCTOHA_SQL");
    expect(e.describe()).not.toContain(SQL_PASSWORD);
  });

  test("a connection dropped mid-inventory is a retryable error, and a retry lists every task", async () => {
    const server = await standin(makeClusterState({ tasks: 3000 }));
    const warnings: string[] = [];
    const inv = inventoryFor(server.connectionString, { pageSize: 1000, retries: 0, onWarning: (w) => warnings.push(w) });
    await inv.probe();
    server.setFaults({ dropConnectionAfterRows: 500 });
    let seen = 0;
    const e = await failureOf(
      (async () => {
        for await (const _ of inv.tasks()) seen++;
      })(),
    );
    expect(e.code).toBe("SQL_CONNECTION_LOST");
    expect(isRetryable(e)).toBe(true);
    expect(seen).toBe(0); // the page never completed, so nothing half-read was yielded
    expect(await collectCount(inv.tasks())).toBe(3000);
    expect(warnings.join("\n")).not.toContain(SQL_PASSWORD);
  });

  test("by default a connection dropped mid-page is retried, and every task arrives exactly once", async () => {
    const server = await standin(makeClusterState({ tasks: 3000 }));
    const warnings: string[] = [];
    const clock = fakeClock();
    const inv = inventoryFor(server.connectionString, { pageSize: 1000, clock, onWarning: (w) => warnings.push(w) });
    const ids: string[] = [];
    let armed = false;
    for await (const t of inv.tasks()) {
      ids.push(t.id);
      if (!armed && ids.length === 1500) {
        // Cut the connection in the middle of the next page.
        server.setFaults({ dropConnectionAfterRows: 400 });
        armed = true;
      }
    }
    expect(ids).toHaveLength(3000);
    expect(new Set(ids).size).toBe(3000);
    expect(warnings.some((w) => w.includes("(attempt 1 of 3; retrying)"))).toBe(true);
    expect(clock.slept).toEqual([250]);
  });

  test("a connection reset at connect time is retryable, and the next attempt connects", async () => {
    const server = await standin();
    server.setFaults({ dropNextConnections: 1 });
    const inv = inventoryFor(server.connectionString, { connectTimeoutMs: 5000, retries: 0 });
    const e = await failureOf(inv.probe());
    expect(isRetryable(e)).toBe(true);
    expect((await inv.probe()).taskNodeColumn).toBe("ServerNodeId");
  });

  test("an unencrypted connection is reported, with a warning, even though the string asks for Encrypt=true", async () => {
    const server = await standin();
    expect(server.connectionString).toContain("Encrypt=true");
    const warnings: string[] = [];
    const inv = inventoryFor(server.connectionString, { onWarning: (w) => warnings.push(w) });
    const info = await inv.connectionInfo();
    expect(info).toEqual({ encrypted: false, server: `127.0.0.1,${server.port}`, database: SQL_DATABASE });
    expect(warnings.some((w) => w.includes("NOT encrypted"))).toBe(true);
  });

  test("Encrypt=strict is honoured: a server without TLS is refused at once, not silently used in plain text", async () => {
    const server = await standin();
    const inv = inventoryFor(server.connectionString.replace("Encrypt=true", "Encrypt=strict"), { connectTimeoutMs: 5000 });
    const e = await failureOf(inv.probe());
    expect(e.code).toBe("SQL_TLS_UNAVAILABLE");
    expect(e.behaviour).toBe("fatal");
    expect(e.describe()).toContain("SQL Server 2022");
  });

  test("the connection string comes from the plan's environment variable and is redacted afterwards", async () => {
    const server = await standin();
    const inv = inventoryFromEnv({ env: "OCTOHA_TEST_SQL" }, { OCTOHA_TEST_SQL: server.connectionString });
    cleanups.push(() => inv.close());
    expect((await inv.nodes()).length).toBe(2);
    expect(redactor.redact(`failed: ${server.connectionString}`)).not.toContain(SQL_PASSWORD);
    expect(() => inventoryFromEnv({ env: "OCTOHA_UNSET_VAR" }, {})).toThrow(/OCTOHA_UNSET_VAR/);
  });
});
