/** The TDS endpoint itself, driven by the real mssql/tedious client over loopback sockets. */
import sql from "mssql";
import { afterEach, describe, expect, test } from "vitest";
import { startTdsServer, type TdsServer } from "../src/tds/server.js";
import { SqlServerError, type SqlHandler } from "../src/tds/handler.js";
import { madeUpPassword } from "../src/testing/made-up.js";

const USER = "octoha_reader";
const PASSWORD = madeUpPassword("tds", "!");
const DATABASE = "Octopus";

describe("TDS stand-in", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function serve(handler: SqlHandler): Promise<TdsServer> {
    const server = await startTdsServer({ user: USER, password: PASSWORD, database: DATABASE, handler });
    cleanups.push(() => server.close());
    return server;
  }

  async function connect(connectionString: string, extra: Partial<sql.config> = {}): Promise<sql.ConnectionPool> {
    const parsed = sql.ConnectionPool.parseConnectionString(connectionString);
    const pool = new sql.ConnectionPool({ ...parsed, ...extra, pool: { max: 1, min: 0 } });
    pool.on("error", () => undefined);
    cleanups.push(() => pool.close());
    await pool.connect();
    return pool;
  }

  /** Answers nothing but the pool's `SELECT 1;`, which the endpoint handles itself. */
  const selectOne: SqlHandler = {
    execute: () => {
      throw new SqlServerError(50000, "unexpected query");
    },
  };

  test("sp_executesql parameters of every type octoha sends arrive with their values", async () => {
    const seen: Record<string, unknown>[] = [];
    const server = await serve({
      execute: (_sql, params) => {
        seen.push(params);
        return [];
      },
    });
    const pool = await connect(server.connectionString);
    const long = "ü".repeat(9000);
    await pool
      .request()
      .input("short", sql.NVarChar(50), "ServerTasks-1")
      .input("long", sql.NVarChar(sql.MAX), long)
      .input("empty", sql.NVarChar(sql.MAX), "")
      .input("missing", sql.NVarChar(50), null)
      .input("count", sql.Int, -42)
      .input("big", sql.BigInt, 2 ** 40)
      .input("flag", sql.Bit, true)
      .input("when", sql.DateTime, new Date("2026-03-04T05:06:07.000Z"))
      .input("whenOffset", sql.DateTimeOffset, new Date("2026-03-04T05:06:07.123Z"))
      .query("SELECT nothing");
    expect(seen).toHaveLength(1);
    expect(seen[0]).toEqual({
      short: "ServerTasks-1",
      long,
      empty: "",
      missing: null,
      count: -42,
      big: 2n ** 40n,
      flag: true,
      when: new Date("2026-03-04T05:06:07.000Z"),
      whenOffset: new Date("2026-03-04T05:06:07.123Z"),
    });
  });

  test("result values of every column type, nulls included, reach the client unchanged", async () => {
    const long = "x".repeat(5000);
    const server = await serve({
      execute: () => [
        {
          columns: [
            { name: "Text", type: "nvarchar" },
            { name: "Count", type: "int" },
            { name: "Big", type: "bigint" },
            { name: "Flag", type: "bit" },
            { name: "At", type: "datetimeoffset" },
          ],
          rows: [
            [long, 7, 2 ** 40, true, "2026-01-02T03:04:05.678Z"],
            ["", -1, 0, false, new Date("1999-12-31T23:59:59.000Z")],
            [null, null, null, null, null],
          ],
        },
      ],
    });
    const pool = await connect(server.connectionString);
    const result = await pool.request().query("SELECT rows");
    expect(result.recordset).toEqual([
      { Text: long, Count: 7, Big: "1099511627776", Flag: true, At: new Date("2026-01-02T03:04:05.678Z") },
      { Text: "", Count: -1, Big: "0", Flag: false, At: new Date("1999-12-31T23:59:59.000Z") },
      { Text: null, Count: null, Big: null, Flag: null, At: null },
    ]);
    expect(result.rowsAffected).toEqual([3]);
  });

  test("a plain SQL batch and several result sets in one answer both work", async () => {
    const server = await serve({
      execute: () => [
        { columns: [{ name: "a", type: "int" }], rows: [[1], [2]] },
        { columns: [{ name: "b", type: "nvarchar" }], rows: [["x"]] },
      ],
    });
    const pool = await connect(server.connectionString);
    const batch = await pool.request().batch("SELECT a; SELECT b");
    expect(batch.recordsets).toEqual([[{ a: 1 }, { a: 2 }], [{ b: "x" }]]);
    const rpc = await pool.request().query("SELECT a; SELECT b");
    expect(rpc.recordsets).toEqual([[{ a: 1 }, { a: 2 }], [{ b: "x" }]]);
    expect(rpc.rowsAffected).toEqual([2, 1]);
  });

  test("100k streamed rows arrive in order and all of them", async () => {
    const total = 100_000;
    const server = await serve({
      execute: () => [
        {
          columns: [
            { name: "Id", type: "nvarchar" },
            { name: "N", type: "int" },
          ],
          rows: (function* () {
            for (let i = 0; i < total; i++) yield [`ServerTasks-${i}`, i];
          })(),
        },
      ],
    });
    const pool = await connect(server.connectionString);
    const request = pool.request();
    request.stream = true;
    let count = 0;
    let disorder = 0;
    await new Promise<void>((resolve, reject) => {
      request.on("row", (row: { N: number; Id: string }) => {
        if (row.N !== count || row.Id !== `ServerTasks-${count}`) disorder++;
        count++;
      });
      request.on("error", reject);
      request.on("done", () => resolve());
      void request.query("SELECT big");
    });
    expect(disorder).toBe(0);
    expect(count).toBe(total);
  });

  test("request.cancel() during a huge result ends the request and the same connection answers the next query", async () => {
    let produced = 0;
    const server = await serve({
      execute: (text) => {
        return [
          {
            columns: [{ name: "N", type: "int" }],
            rows: (function* () {
              for (let i = 0; i < 50_000_000; i++) {
                produced++;
                yield [i];
              }
            })(),
          },
        ];
      },
    });
    const pool = await connect(server.connectionString);
    const request = pool.request();
    request.stream = true;
    const errors: string[] = [];
    let rows = 0;
    await new Promise<void>((resolve) => {
      request.on("row", () => {
        rows++;
        if (rows === 1000) request.cancel();
      });
      request.on("error", (e: { code?: string }) => errors.push(String(e.code)));
      request.on("done", () => resolve());
      void request.query("SELECT endless");
    });
    expect(errors).toContain("ECANCEL");
    expect(produced).toBeLessThan(50_000_000);
    const again = await pool.request().query("SELECT 1");
    expect(again.recordset).toEqual([{ "": 1 }]);
  });

  test("a client-side request timeout is answered with an attention acknowledgement, not a hang", async () => {
    const server = await serve({
      execute: async (text) => {
        if (text.includes("slow")) await new Promise((r) => setTimeout(r, 1500));
        return [{ columns: [{ name: "n", type: "int" }], rows: [[2]] }];
      },
    });
    const pool = await connect(server.connectionString, { requestTimeout: 300 });
    await expect(pool.request().query("SELECT slow")).rejects.toMatchObject({ code: "ETIMEOUT" });
    await expect(pool.request().query("SELECT fast")).resolves.toMatchObject({ recordset: [{ n: 2 }] });
  });

  test("the latency knob delays answers until it is cleared", async () => {
    const server = await serve(selectOne);
    // No pool validation: the delayed answer under test is the query's own.
    const pool = await connect(server.connectionString, { requestTimeout: 300, validateConnection: false } as Partial<sql.config>);
    server.setFaults({ latencyMs: 1500 });
    await expect(pool.request().query("SELECT 1")).rejects.toMatchObject({ code: "ETIMEOUT" });
    server.setFaults({});
    await expect(pool.request().query("SELECT 1")).resolves.toMatchObject({ recordset: [{ "": 1 }] });
  });

  test("a handler error reaches the client as the SQL Server error it names", async () => {
    const server = await serve({
      execute: () => {
        throw new SqlServerError(208, "Invalid object name 'dbo.Nope'.");
      },
    });
    const pool = await connect(server.connectionString);
    await expect(pool.request().query("SELECT * FROM dbo.Nope")).rejects.toMatchObject({
      number: 208,
      message: "Invalid object name 'dbo.Nope'.",
    });
  });

  test("a failure part-way through a result is an error at the client, never a short result", async () => {
    const server = await serve({
      execute: () => [
        {
          columns: [{ name: "N", type: "int" }],
          rows: (function* () {
            for (let i = 0; i < 10; i++) yield [i];
            throw new SqlServerError(8115, "Arithmetic overflow error converting expression to data type int.");
          })(),
        },
      ],
    });
    const pool = await connect(server.connectionString);
    await expect(pool.request().query("SELECT N")).rejects.toMatchObject({ number: 8115 });
  });

  test("a stored procedure other than sp_executesql is refused with error 2812", async () => {
    const server = await serve(selectOne);
    const pool = await connect(server.connectionString);
    await expect(pool.request().execute("sp_who")).rejects.toMatchObject({ number: 2812 });
  });

  test("a parameter type the stand-in does not decode is refused, and the connection stays usable", async () => {
    const server = await serve(selectOne);
    const pool = await connect(server.connectionString);
    await expect(pool.request().input("f", sql.Float, 1.5).query("SELECT @f")).rejects.toMatchObject({ number: 8016 });
    await expect(pool.request().query("SELECT 1")).resolves.toMatchObject({ recordset: [{ "": 1 }] });
  });

  test("transactions begin, commit and roll back through the transaction manager request", async () => {
    const server = await serve(selectOne);
    const pool = await connect(server.connectionString);
    const tx = new sql.Transaction(pool);
    await tx.begin();
    await expect(new sql.Request(tx).query("SELECT 1")).resolves.toMatchObject({ recordset: [{ "": 1 }] });
    await tx.commit();
    const tx2 = new sql.Transaction(pool);
    await tx2.begin();
    await tx2.rollback();
  });

  test("a wrong password is refused with error 18456 and the password is in no error text", async () => {
    const server = await serve(selectOne);
    const wrong = "Not-The-Password-77";
    const e = await connect(server.connectionString.replace(PASSWORD, wrong)).catch((x: unknown) => x as Error);
    expect(e).toBeInstanceOf(Error);
    expect((e as Error).message).toBe(`Login failed for user '${USER}'.`);
    expect(JSON.stringify(e, Object.getOwnPropertyNames(e))).not.toContain(wrong);
  });

  test("a wrong database is refused with error 4060 before the login failure", async () => {
    const server = await serve(selectOne);
    const numbers: number[] = [];
    const parsed = sql.ConnectionPool.parseConnectionString(server.connectionString.replace("Database=Octopus", "Database=Elsewhere"));
    const pool = new sql.ConnectionPool({
      ...parsed,
      beforeConnect: (c) => c.on("errorMessage", (t: { number: number }) => numbers.push(t.number)),
    });
    pool.on("error", () => undefined);
    cleanups.push(() => pool.close());
    await expect(pool.connect()).rejects.toMatchObject({ code: "ELOGIN" });
    expect(numbers.slice(0, 2)).toEqual([4060, 18456]);
  });

  test("the drop-next-connections knob resets exactly that many connections", async () => {
    const server = await serve(selectOne);
    server.setFaults({ dropNextConnections: 1 });
    await expect(connect(server.connectionString)).rejects.toMatchObject({ name: "ConnectionError" });
    const pool = await connect(server.connectionString);
    await expect(pool.request().query("SELECT 1")).resolves.toMatchObject({ recordset: [{ "": 1 }] });
  });
});
