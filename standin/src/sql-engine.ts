/**
 * The stand-in's SQL engine: the Octopus tables of a ClusterState in an embedded SQLite (sql.js,
 * WASM, no native build), rebuilt only when the state's revision changes, answering the
 * read-only queries octoha sends through the TDS endpoint (tds/server.ts).
 *
 * Tables live in attached databases named dbo, INFORMATION_SCHEMA and sys, so `[dbo].[ServerTask]`,
 * `INFORMATION_SCHEMA.COLUMNS` and `sys.tables` resolve as they do on SQL Server. Text columns
 * compare case-insensitively (COLLATE NOCASE), like SQL Server's default collation.
 */
import { createRequire } from "node:module";
import initSqlJs, { type Database, type SqlJsStatic, type SqlValue, type Statement } from "sql.js";
import {
  DEFAULT_SERVER_IDENTITY,
  deniedDmv,
  haCatalog,
  OCTOPUS_DATABASE_ID,
  serverProperty,
  type DatabaseHaConfiguration,
  type ServerIdentity,
} from "./database-ha.js";
import type { ClusterState } from "./model.js";
import { octopusRows, octopusTables, type TableDef } from "./octopus-tables.js";
import { SqlServerError, type SqlColumnType, type SqlHandler, type SqlResultSet } from "./tds/handler.js";
import { notSupported, rewriteTsql, sqlServerErrorFromSqlite } from "./tsql-rewrite.js";

export interface ClusterStateSource {
  state(): ClusterState;
  revision(): number;
}

let sqlJs: Promise<SqlJsStatic> | undefined;

function loadSqlJs(): Promise<SqlJsStatic> {
  const wasm = createRequire(import.meta.url).resolve("sql.js/dist/sql-wasm.wasm");
  sqlJs ??= initSqlJs({ locateFile: () => wasm });
  return sqlJs;
}

/** One materialised snapshot; closed once replaced and no result is still streaming from it. */
class Snapshot {
  private openStatements = 0;
  private retired = false;

  constructor(
    readonly db: Database,
    readonly revision: number,
    readonly builtAt: number,
  ) {}

  open(): void {
    this.openStatements++;
  }
  closeStatement(): void {
    this.openStatements--;
    this.maybeClose();
  }
  retire(): void {
    this.retired = true;
    this.maybeClose();
  }
  private maybeClose(): void {
    if (this.retired && this.openStatements === 0) this.db.close();
  }
}

export interface SqlEngineOptions {
  /**
   * Reuse a snapshot this young even if the revision moved on (default 0: always fresh). A busy
   * simulation with a large task table can otherwise rebuild before every page of a paged read.
   */
  maxStalenessMs?: number;
  now?: () => number;
  /** How highly available the server claims to be (default standalone). */
  databaseHa?: DatabaseHaConfiguration;
  /** Which server and database this is (@@SERVERNAME, DB_NAME(), sys.databases.create_date). */
  server?: ServerIdentity;
}

export function createSqlEngine(source: ClusterStateSource, options: SqlEngineOptions = {}): SqlHandler {
  const now = options.now ?? Date.now;
  let current: Snapshot | undefined;

  async function snapshot(): Promise<Snapshot> {
    const SQL = await loadSqlJs();
    const revision = source.revision();
    if (current && (current.revision === revision || now() - current.builtAt < (options.maxStalenessMs ?? 0))) return current;
    const next = new Snapshot(
      materialise(SQL, source.state(), options.databaseHa ?? "standalone", options.server ?? DEFAULT_SERVER_IDENTITY),
      revision,
      now(),
    );
    current?.retire();
    current = next;
    return next;
  }

  return {
    async execute(text: string, params: Record<string, unknown>): Promise<SqlResultSet[]> {
      const denied = deniedDmv(options.databaseHa ?? "standalone", text);
      if (denied) throw denied;
      // Three-part msdb names: msdb.dbo is the attached database msdb_dbo.
      const query = rewriteTsql(text.replace(/\bmsdb\.dbo\./gi, "msdb_dbo."));
      const bindings: Record<string, SqlValue> = {};
      for (const name of query.params) {
        const key = Object.keys(params).find((k) => k.toLowerCase() === name.toLowerCase());
        if (key === undefined) throw new SqlServerError(137, `Must declare the scalar variable "@${name}".`, 2, 15);
        bindings[`@${name}`] = toSqlite(params[key]);
      }
      const snap = await snapshot();
      let stmt: Statement;
      let types: (SqlColumnType | undefined)[];
      try {
        // Prepare first: it names a missing table or column the way SQLite's parser sees it.
        stmt = snap.db.prepare(query.sql);
      } catch (error) {
        throw sqlServerErrorFromSqlite((error instanceof Error ? error.message : String(error)).replace(/msdb_dbo\./g, "msdb.dbo."));
      }
      try {
        stmt.bind(bindings);
        types = declaredTypes(snap.db, query.sql);
      } catch (error) {
        stmt.free();
        throw sqlServerErrorFromSqlite(error instanceof Error ? error.message : String(error));
      }
      snap.open();
      return [resultSet(stmt, types, () => snap.closeStatement())];
    },
  };
}

function materialise(SQL: SqlJsStatic, state: ClusterState, ha: DatabaseHaConfiguration, server: ServerIdentity): Database {
  const db = new SQL.Database();
  try {
    for (const schema of ["dbo", "INFORMATION_SCHEMA", "sys", ...(ha === "azure-sql-database" ? [] : ["msdb_dbo"])])
      db.run(`ATTACH DATABASE ':memory:' AS ${schema}`);
    db.create_function("SERVERPROPERTY", (name: unknown) => serverProperty(ha, name, server));
    db.create_function("octoha_servername", () => server.serverName);
    db.create_function("DB_ID", () => OCTOPUS_DATABASE_ID);
    db.create_function("DB_NAME", () => server.catalog);
    const tables = octopusTables(state.schema);
    db.run("BEGIN");
    for (const t of tables) {
      // Id is the primary key of every Octopus table: keyset paging (WHERE Id > @after ORDER BY Id) walks its index.
      const column = (c: TableDef["columns"][number]): string =>
        `[${c.name}] ${c.wire.toUpperCase()}${c.wire === "nvarchar" ? " COLLATE NOCASE" : ""}${c.name === "Id" ? " PRIMARY KEY" : ""}`;
      db.run(`CREATE TABLE dbo.[${t.name}] (${t.columns.map(column).join(", ")})`);
    }
    const rows = octopusRows(state);
    for (const t of tables)
      insertAll(
        db,
        `dbo.[${t.name}]`,
        t.columns.map((c) => c.name),
        rows.get(t.name) ?? [],
      );
    createCatalog(db, tables);
    for (const t of haCatalog(ha, server)) {
      db.run(`CREATE TABLE ${t.name} (${t.columns.map((c) => `[${c}]${t.types?.[c] ? ` ${t.types[c]}` : ""}`).join(", ")})`);
      insertAll(db, t.name, t.columns, t.rows);
    }
    db.run("COMMIT");
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

function insertAll(db: Database, table: string, columns: string[], rows: Iterable<Record<string, unknown>>): void {
  const stmt = db.prepare(
    `INSERT INTO ${table} (${columns.map((c) => `[${c}]`).join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`,
  );
  try {
    for (const row of rows) stmt.run(columns.map((c) => toSqlite(row[c])));
  } finally {
    stmt.free();
  }
}

/** INFORMATION_SCHEMA.COLUMNS / TABLES and sys.tables, from the same table definitions. */
function createCatalog(db: Database, tables: TableDef[]): void {
  db.run(
    "CREATE TABLE INFORMATION_SCHEMA.COLUMNS (TABLE_CATALOG NVARCHAR COLLATE NOCASE, TABLE_SCHEMA NVARCHAR COLLATE NOCASE, TABLE_NAME NVARCHAR COLLATE NOCASE, COLUMN_NAME NVARCHAR COLLATE NOCASE, ORDINAL_POSITION INT, IS_NULLABLE NVARCHAR, DATA_TYPE NVARCHAR COLLATE NOCASE, CHARACTER_MAXIMUM_LENGTH INT)",
  );
  db.run(
    "CREATE TABLE INFORMATION_SCHEMA.TABLES (TABLE_CATALOG NVARCHAR COLLATE NOCASE, TABLE_SCHEMA NVARCHAR COLLATE NOCASE, TABLE_NAME NVARCHAR COLLATE NOCASE, TABLE_TYPE NVARCHAR)",
  );
  db.run("CREATE TABLE sys.tables (name NVARCHAR COLLATE NOCASE, object_id INT, schema_id INT, type NVARCHAR, type_desc NVARCHAR)");
  const columnRows = tables.flatMap((t) =>
    t.columns.map((c, i) => ({
      TABLE_CATALOG: "Octopus",
      TABLE_SCHEMA: "dbo",
      TABLE_NAME: t.name,
      COLUMN_NAME: c.name,
      ORDINAL_POSITION: i + 1,
      IS_NULLABLE: c.nullable ? "YES" : "NO",
      DATA_TYPE: c.sqlType,
      CHARACTER_MAXIMUM_LENGTH: c.maxLength ?? null,
    })),
  );
  insertAll(db, "INFORMATION_SCHEMA.COLUMNS", Object.keys(columnRows[0]!), columnRows);
  insertAll(
    db,
    "INFORMATION_SCHEMA.TABLES",
    ["TABLE_CATALOG", "TABLE_SCHEMA", "TABLE_NAME", "TABLE_TYPE"],
    tables.map((t) => ({ TABLE_CATALOG: "Octopus", TABLE_SCHEMA: "dbo", TABLE_NAME: t.name, TABLE_TYPE: "BASE TABLE" })),
  );
  insertAll(
    db,
    "sys.tables",
    ["name", "object_id", "schema_id", "type", "type_desc"],
    tables.map((t, i) => ({ name: t.name, object_id: 1000 + i, schema_id: 1, type: "U", type_desc: "USER_TABLE" })),
  );
}

const WIRE_TYPES: readonly SqlColumnType[] = ["nvarchar", "int", "bigint", "bit", "datetimeoffset"];

/**
 * The declared type of each result column, read back through a throw-away view (sql.js has no
 * column_decltype). Parameters are not allowed in views, so they become NULL for this purpose.
 * Expression columns (SELECT 1, COUNT(*)) have no declared type: undefined.
 */
function declaredTypes(db: Database, sql: string): (SqlColumnType | undefined)[] {
  const asView = sql.replace(/'(?:[^']|'')*'|@\w+/g, (m) => (m.startsWith("@") ? "NULL" : m));
  db.run(`CREATE TEMP VIEW octoha_probe AS ${asView}`);
  try {
    const info = db.exec("PRAGMA temp.table_info(octoha_probe)")[0];
    return (info?.values ?? []).map((r) => {
      const t = String(r[2] ?? "").toLowerCase();
      return WIRE_TYPES.find((w) => w === t);
    });
  } finally {
    db.run("DROP VIEW temp.octoha_probe");
  }
}

/** Streams rows off the statement; types of expression columns are inferred from the first row. */
function resultSet(stmt: Statement, declared: (SqlColumnType | undefined)[], onDone: () => void): SqlResultSet {
  const names = stmt.getColumnNames();
  let first: SqlValue[] | undefined;
  let finished = false;
  const finish = (): void => {
    if (finished) return;
    finished = true;
    stmt.free();
    onDone();
  };
  try {
    if (declared.some((t) => t === undefined) && stmt.step()) first = stmt.get();
  } catch (error) {
    finish();
    throw sqlServerErrorFromSqlite(error instanceof Error ? error.message : String(error));
  }
  const columns = names.map((name, i) => ({ name, type: declared[i] ?? inferType(first?.[i]) }));
  const hasFirst = first !== undefined;
  const rows = (function* (): Generator<unknown[]> {
    try {
      if (hasFirst) yield first!;
      else if (declared.some((t) => t === undefined)) return; // the probe step found no rows
      while (stmt.step()) yield stmt.get();
    } finally {
      finish();
    }
  })();
  return { columns, rows };
}

function inferType(v: SqlValue | undefined): SqlColumnType {
  if (typeof v === "number" && Number.isInteger(v)) return Math.abs(v) <= 2_147_483_647 ? "int" : "bigint";
  if (v === null || v === undefined || typeof v === "string") return "nvarchar";
  throw notSupported(`A result column of SQLite type ${typeof v}`);
}

function toSqlite(v: unknown): SqlValue {
  if (v === null || v === undefined) return null;
  if (typeof v === "string" || typeof v === "number") return v;
  if (typeof v === "boolean") return v ? 1 : 0;
  if (typeof v === "bigint") return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (v instanceof Date) return v.toISOString();
  throw notSupported(`A parameter of type ${typeof v}`);
}
