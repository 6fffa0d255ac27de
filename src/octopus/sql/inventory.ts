/**
 * The read-only SQL inventory (DatabaseInventory) over mssql: which tasks exist and where they
 * ran, which packages the built-in feed indexes, which nodes there are. Rows are read in keyset
 * pages (see queries.ts for why) and yielded one by one, so 100k+ tasks never sit in memory.
 */
import { createRequire } from "node:module";
import type sql from "mssql";
import type { Clock } from "../../shared/clock.js";
import { InputError, isRetryable, OctohaError } from "../../shared/errors.js";
import { ExitCode } from "../../shared/exit-codes.js";
import { redactor } from "../../shared/redact.js";
import { retry, RETRY_BUDGETS } from "../../shared/retry.js";
import type { DatabaseInventory, NodeRow, PackageRow, TaskRow } from "../types.js";
import { ACCEPTED_CONNECTION_STRINGS, connectionStringProblem, connectionTarget } from "./connection-string.js";
import { toOctohaError } from "./errors.js";
import { probeDatabaseHa, type DatabaseHaFacts } from "./ha-probe.js";
import { nodesSql, packagePageSql, PROBE_SQL, taskPageSql } from "./queries.js";
import { readHeartbeats, readSnapshot, readSnapshotTables, type DatabaseSnapshot } from "./restore-compare.js";
import { decideSchema, foundColumns, type ProbedSchema } from "./schema-probe.js";

/**
 * mssql (with tedious under it) takes most of a second to load: only commands that really talk to
 * SQL Server pay for it, not `--help`, `copy` or `status`. Loaded synchronously on first use, so a
 * bad connection string still fails where it always did (when the inventory is created).
 */
let loadedMssql: typeof sql | undefined;
function mssql(): typeof sql {
  return (loadedMssql ??= createRequire(import.meta.url)("mssql") as typeof sql);
}

export interface InventoryOptions {
  /** Rows per keyset page (default 5000). */
  pageSize?: number;
  /** Per-request timeout (default 60 s). */
  requestTimeoutMs?: number;
  /** Connect/login timeout (default 15 s). */
  connectTimeoutMs?: number;
  /** Where the connection string came from, named in error hints (e.g. "OCTOHA_SQL"). */
  envVar?: string;
  /**
   * Refuse to talk to SQL Server without TLS (tedious `encrypt: "strict"`, TDS 8.0, SQL Server 2022+).
   * `Encrypt=strict` in the connection string means the same.
   */
  requireEncryption?: boolean;
  /** Retryable failures (dropped connection, timeout) are retried this many times per request (default 2, see RETRY_BUDGETS.sqlQuery). */
  retries?: number;
  /** First retry delay; doubles each time (default 250 ms). */
  retryDelayMs?: number;
  /** Backoff sleeps (a fake clock in tests). */
  clock?: Clock;
  /** Receives warnings an operator should see (unencrypted connection, pool errors). Never given secrets. */
  onWarning?: (message: string) => void;
  /** The run's abort signal (Ctrl-C): cancels the query in flight and ends the retries at once. */
  signal?: AbortSignal;
}

/** The bits of tedious's Connection that reveal whether TLS is in use. */
interface TediousConnectionView {
  messageIo?: { tlsNegotiationComplete?: boolean };
}

interface PoolWithAcquire {
  acquire(): Promise<TediousConnectionView>;
  release(connection: TediousConnectionView): void;
}

class SqlInventory implements DatabaseInventory {
  private readonly config: sql.config;
  private readonly pageSize: number;
  private pool: sql.ConnectionPool | undefined;
  private connecting: Promise<sql.ConnectionPool> | undefined;
  private schema: ProbedSchema | undefined;
  /** TLS demanded (TDS 8.0 strict): a connection that cannot negotiate it fails instead of falling back. */
  private readonly strict: boolean;
  /** SQL Server ERROR tokens seen while logging in, for a precise connect error. */
  private loginMessages: { number: number; message: string }[] = [];
  /** Every tedious connection not yet ended (logging in, idle or busy). */
  private readonly live = new Set<TediousConnection>();
  /** Server= and Database= as the connection string spells them (no secret), to name it in the restore comparison. */
  private readonly spelled: string;

  constructor(
    connectionString: string,
    private readonly options: InventoryOptions,
  ) {
    redactor.add(connectionString);
    const where = `The SQL connection string${options.envVar ? ` in ${options.envVar}` : ""}`;
    // mssql's parser reads a URL or a server-less string as a config without a server ("SQL Server undefined,1433").
    const problem = connectionStringProblem(connectionString, where);
    if (problem) throw new InputError(problem.summary, { code: "SQL_CONNECTION_STRING_INVALID", hint: problem.hint });
    let parsed: ReturnType<typeof sql.ConnectionPool.parseConnectionString>;
    try {
      parsed = mssql().ConnectionPool.parseConnectionString(connectionString);
    } catch (error) {
      throw new InputError(`${where} cannot be parsed`, {
        code: "SQL_CONNECTION_STRING_INVALID",
        hint: redactor.redact(`${ACCEPTED_CONNECTION_STRINGS} (${error instanceof Error ? error.message : String(error)})`),
      });
    }
    redactor.add(parsed.password);
    const target = connectionTarget(connectionString);
    this.spelled = `Server=${target.server};Database=${target.database || "(none)"}`;
    // mssql's parser turns Encrypt=strict into a boolean, silently dropping the operator's demand for TLS.
    this.strict = options.requireEncryption === true || /(^|;)\s*encrypt\s*=\s*strict\s*(;|$)/i.test(connectionString);
    this.pageSize = options.pageSize ?? 5000;
    this.config = {
      ...parsed,
      requestTimeout: options.requestTimeoutMs ?? 60_000,
      connectionTimeout: options.connectTimeoutMs ?? 15_000,
      pool: { ...parsed.pool, min: 0, max: 2 },
      // No ApplicationIntent=ReadOnly: a lagging AG secondary could miss recent tasks and make "0 missing" a lie.
      options: { ...parsed.options, appName: "octoha", ...(this.strict ? { encrypt: "strict" as const } : {}) },
      beforeConnect: (connection) => {
        // A connection the pool opens after Ctrl-C (to replace a closed one) is closed at once too.
        if (options.signal?.aborted) return setImmediate(() => dropConnection(connection));
        this.live.add(connection);
        connection.on("end", () => this.live.delete(connection));
        connection.on("errorMessage", (token: { number: number; message: string }) => {
          this.loginMessages = [...this.loginMessages.slice(-4), { number: token.number, message: token.message }];
        });
      },
    };
    // Ctrl-C: every connection is closed at once (SQL Server abandons a query whose session ends),
    // so neither a hung query, a login nor the pool's own validation query keeps octoha waiting.
    options.signal?.addEventListener(
      "abort",
      () => {
        for (const connection of this.live) dropConnection(connection);
        this.close().catch(() => undefined);
      },
      { once: true },
    );
  }

  private connect(): Promise<sql.ConnectionPool> {
    if (this.pool) return Promise.resolve(this.pool);
    this.connecting ??= (async () => {
      this.loginMessages = [];
      const pool = new (mssql().ConnectionPool)(this.config);
      // tedious reports a socket cut mid-request as a pool 'error' event; unheard, it kills the process.
      pool.on("error", (error: unknown) =>
        this.options.onWarning?.(redactor.redact(`SQL connection error: ${error instanceof Error ? error.message : String(error)}`)),
      );
      try {
        await pool.connect();
      } catch (error) {
        this.connecting = undefined;
        await pool.close().catch(() => undefined);
        const failure = toOctohaError(error, {
          doing: `connecting to SQL Server ${this.serverName()}`,
          envVar: this.options.envVar,
          serverMessages: this.loginMessages,
        });
        if (this.strict && failure.behaviour === "retryable") {
          // Retrying will not make a server speak TLS.
          throw new OctohaError(`SQL Server ${this.serverName()} did not complete a strict (TDS 8.0) TLS connection: ${failure.message}`, {
            code: "SQL_TLS_UNAVAILABLE",
            behaviour: "fatal",
            hint: "Encrypt=strict needs SQL Server 2022 or later with a certificate this machine trusts. Use Encrypt=true to allow TLS negotiation on older servers; octoha then reports and warns if the connection ends up unencrypted.",
            cause: failure,
          });
        }
        throw failure;
      }
      this.pool = pool;
      return pool;
    })();
    return this.connecting;
  }

  private serverName(): string {
    return this.config.port ? `${this.config.server},${this.config.port}` : this.config.server;
  }

  /**
   * One read-only request. Each answer is complete before any row is yielded, so a request that
   * failed in a retryable way (dropped connection, timeout) is simply sent again: no row is lost or
   * repeated. Only the last failure reaches the caller, still marked retryable.
   */
  private async query<T>(text: string, doing: string, params: { batch?: number; after?: string } = {}): Promise<T[]> {
    const budget = RETRY_BUDGETS.sqlQuery;
    const attempts = (this.options.retries ?? budget.attempts - 1) + 1;
    const signal = this.options.signal;
    try {
      return await retry(() => this.queryOnce<T>(text, doing, params), {
        attempts,
        backoff: { ...budget.backoff, initialMs: this.options.retryDelayMs ?? budget.backoff.initialMs },
        isRetryable,
        ...(signal ? { signal } : {}),
        ...(this.options.clock ? { clock: this.options.clock } : {}),
        onRetry: ({ error, attempt }) =>
          this.options.onWarning?.(`${(error as Error).message} (attempt ${attempt} of ${attempts}; retrying)`),
      });
    } catch (error) {
      // Aborted during a backoff: retry() rejects with the signal's reason, which says nothing about the query.
      if (signal?.aborted && error === signal.reason) throw sqlInterrupted(doing);
      throw error;
    }
  }

  private async queryOnce<T>(text: string, doing: string, params: { batch?: number; after?: string }): Promise<T[]> {
    const signal = this.options.signal;
    if (signal?.aborted) throw sqlInterrupted(doing);
    try {
      const pool = await untilAborted(this.connect(), signal, doing);
      const request = pool.request();
      if (params.batch !== undefined) request.input("batch", mssql().Int, params.batch);
      if (params.after !== undefined) request.input("after", mssql().NVarChar(250), params.after);
      const result = await untilAborted(request.query<T>(text), signal, doing);
      return result.recordset ?? [];
    } catch (error) {
      if (signal?.aborted) throw sqlInterrupted(doing);
      throw toOctohaError(error, { doing, envVar: this.options.envVar });
    }
  }

  async probe(): Promise<ProbedSchema> {
    if (this.schema) return this.schema;
    const rows = await this.query<{ TABLE_NAME: string; COLUMN_NAME: string }>(PROBE_SQL, "probing the Octopus schema");
    this.schema = decideSchema(foundColumns(rows));
    return this.schema;
  }

  /** Yields every row of a keyset-paged query, one page in memory at a time. */
  private async *pages<T extends { Id: string }>(text: string, doing: string): AsyncGenerator<T> {
    let after = "";
    for (;;) {
      const page = await this.query<T>(text, doing, { batch: this.pageSize, after });
      yield* page;
      const last = page[page.length - 1];
      if (page.length < this.pageSize || !last) return;
      after = last.Id;
    }
  }

  async *tasks(options: { completedOnly?: boolean } = {}): AsyncIterable<TaskRow> {
    const schema = await this.probe();
    type Row = { Id: string; State: string; ServerNode: string | null; CompletedTime: Date | string | null };
    for await (const r of this.pages<Row>(taskPageSql(schema, options.completedOnly ?? false), "reading ServerTask rows")) {
      yield { id: r.Id, state: r.State, serverNode: r.ServerNode ?? null, completedTime: isoOrNull(r.CompletedTime) };
    }
  }

  async *packages(): AsyncIterable<PackageRow> {
    const schema = await this.probe();
    if (!schema.hasNuGetPackage) {
      throw toOctohaError(
        Object.assign(new Error("table dbo.NuGetPackage (Id, PackageId, Version) is not in this database"), { number: 208 }),
        { doing: "reading the built-in feed's package index", envVar: this.options.envVar },
      );
    }
    type Row = { Id: string; PackageId: string; Version: string; SpaceId: string | null };
    for await (const r of this.pages<Row>(packagePageSql(schema), "reading NuGetPackage rows")) {
      yield { id: r.Id, packageId: r.PackageId, version: r.Version, spaceId: r.SpaceId ?? null };
    }
  }

  async nodes(): Promise<NodeRow[]> {
    const schema = await this.probe();
    type Row = { Id: string; Name: string; MaxConcurrentTasks?: number | null; IsInMaintenanceMode?: boolean | null };
    const rows = await this.query<Row>(nodesSql(schema), `reading ${schema.nodeTable} rows`);
    return rows.map((r) => ({
      id: r.Id,
      name: r.Name,
      ...(typeof r.MaxConcurrentTasks === "number" ? { maxConcurrentTasks: r.MaxConcurrentTasks } : {}),
      ...(typeof r.IsInMaintenanceMode === "boolean" ? { isDraining: r.IsInMaintenanceMode } : {}),
    }));
  }

  /** Whether the database is itself highly available; each question degrades to "unknown" on its own (ha-probe.ts). */
  async databaseHa(): Promise<DatabaseHaFacts> {
    const options = (this.config.options ?? {}) as { multiSubnetFailover?: boolean };
    return probeDatabaseHa(
      { rows: <T>(text: string) => this.query<T>(text, "probing whether the Octopus database is highly available") },
      { server: this.serverName(), multiSubnetFailover: options.multiSubnetFailover === true, login: this.config.user ?? "octoha-login" },
    );
  }

  /** Schema version, installation identity and row counts, for the faithful-restore comparison (read-only). */
  async snapshot(): Promise<DatabaseSnapshot> {
    return readSnapshot(
      { rows: <T>(text: string) => this.query<T>(text, "reading the database for the restore comparison") },
      this.spelled,
    );
  }

  /** Each node's LastSeen by name, or undefined when this schema keeps it elsewhere. */
  async heartbeats(): Promise<Record<string, string> | undefined> {
    const reader = { rows: <T>(text: string) => this.query<T>(text, "reading the nodes' heartbeats") };
    return readHeartbeats(reader, (await readSnapshotTables(reader)).tables);
  }

  async connectionInfo(): Promise<{ encrypted: boolean; server: string; database: string }> {
    const pool = (await this.connect()) as unknown as PoolWithAcquire;
    let encrypted = false;
    let connection: TediousConnectionView | undefined;
    try {
      connection = await untilAborted(pool.acquire(), this.options.signal, "checking the SQL connection's encryption");
      // tedious silently falls back to plain TCP when the server does not offer TLS, even with
      // Encrypt=true: only the negotiated state tells the truth.
      encrypted = connection.messageIo?.tlsNegotiationComplete === true;
    } catch (error) {
      throw toOctohaError(error, { doing: "checking the SQL connection's encryption", envVar: this.options.envVar });
    } finally {
      if (connection) pool.release(connection);
    }
    const info = { encrypted, server: this.serverName(), database: this.config.database ?? "" };
    if (!encrypted) {
      this.options.onWarning?.(
        `The SQL connection to ${info.server} (database ${info.database}) is NOT encrypted: the server did not negotiate TLS. Set Encrypt=strict in the connection string (SQL Server 2022+) to refuse unencrypted connections.`,
      );
    }
    return info;
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    this.connecting = undefined;
    if (pool) await pool.close();
  }
}

/** The parts of tedious's Connection that closing it at once needs. */
interface TediousConnection {
  socket?: { destroy(error?: Error): void };
  close(): void;
}

/**
 * Closes a connection now. tedious's close() alone leaves a login in progress waiting for its
 * answer until the connect timeout (15 s), keeping the process alive: failing its socket first
 * ends that wait.
 */
function dropConnection(connection: TediousConnection): void {
  connection.socket?.destroy(new Error("octoha was interrupted"));
  connection.close();
}

function sqlInterrupted(doing: string): OctohaError {
  return new OctohaError(`Stopped ${doing}: octoha was interrupted`, {
    code: "INTERRUPTED",
    exitCode: ExitCode.Resumable,
    hint: "Stopped on request (Ctrl-C or SIGTERM); nothing more was sent. A run says how to resume it.",
  });
}

/** The promise's outcome, or an interruption as soon as the signal aborts (the promise is left to settle unheard). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined, doing: string): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const stop = () => reject(sqlInterrupted(doing));
    if (signal.aborted) stop();
    signal.addEventListener("abort", stop, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", stop));
  });
}

function isoOrNull(v: Date | string | null): string | null {
  if (v === null || v === undefined) return null;
  return v instanceof Date ? v.toISOString() : new Date(v).toISOString();
}

/** The SQL inventory for one connection string (a secret: registered with the redactor here). */
export function createInventory(connectionString: string, options: InventoryOptions = {}): DatabaseInventory {
  return new SqlInventory(connectionString, options);
}

/** The SQL inventory for a plan's `{ env: "NAME" }` reference. */
export function inventoryFromEnv(
  ref: { env: string },
  env: NodeJS.ProcessEnv = process.env,
  options: Omit<InventoryOptions, "envVar"> = {},
): DatabaseInventory {
  const value = env[ref.env];
  if (!value) {
    throw new InputError(`Environment variable ${ref.env} (the SQL connection string) is not set`, {
      code: "SQL_CONNECTION_STRING_MISSING",
      hint: `Set ${ref.env} to the Octopus database's connection string before running octoha; secrets are never taken from the command line.`,
    });
  }
  return createInventory(value, { ...options, envVar: ref.env });
}
