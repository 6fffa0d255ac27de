/**
 * A TDS 7.4 endpoint on loopback that the real `mssql`/tedious driver connects to (issue 4). It
 * authenticates one SQL login, answers SQL batches and sp_executesql through a SqlHandler, and can
 * be told to misbehave (dropped connections, latency). Wire details: wire.ts, requests.ts;
 * per-socket protocol: connection.ts.
 */
import net from "node:net";
import { TdsConnection } from "./connection.js";

export type SqlColumnType = "nvarchar" | "int" | "bigint" | "bit" | "datetimeoffset";

export interface SqlResultSet {
  columns: { name: string; type: SqlColumnType }[];
  /** Rows in column order. May be a lazy (async) iterable: rows are written to the socket as produced. */
  rows: unknown[][] | Iterable<unknown[]> | AsyncIterable<unknown[]>;
}

/**
 * Executes one SQL text. `params` holds sp_executesql's parameters by name without the "@"
 * (`{ after: "ServerTasks-1" }`). Throw SqlServerError for errors the client should see.
 */
export interface SqlHandler {
  execute(sql: string, params: Record<string, unknown>): Promise<SqlResultSet[]> | SqlResultSet[];
}

/** An error answered to the client as a SQL Server ERROR token (number, state, severity). */
export class SqlServerError extends Error {
  constructor(
    readonly number: number,
    message: string,
    readonly state = 1,
    readonly severity = 16,
    /** Errors SQL Server sends before this one in the same response (300 before 297 for a denied DMV). */
    readonly preceding: SqlServerError[] = [],
  ) {
    super(message);
    this.name = "SqlServerError";
  }
}

export interface TdsFaults {
  /** One-shot: the next response that has sent this many rows cuts its connection, then the knob clears. */
  dropConnectionAfterRows?: number;
  /** Reset this many upcoming connections right after accept. */
  dropNextConnections?: number;
  /** Delay before answering each login and request. */
  latencyMs?: number;
}

export interface TdsServerOptions {
  host?: string;
  port?: number;
  user: string;
  password: string;
  database: string;
  handler: SqlHandler;
  faults?: TdsFaults;
}

export interface TdsServer {
  port: number;
  /** ADO.NET-style connection string for `mssql` (contains the password: treat as a secret). */
  connectionString: string;
  setFaults(f: TdsFaults): void;
  /** The knobs as they are now: a one-shot knob that fired is gone (tests prove a fault happened). */
  faults(): TdsFaults;
  /** Messages (logins, queries, cancels) received so far, counted before any latency fault delays them. */
  received(): number;
  close(): Promise<void>;
}

/** Shared by every connection of one server: the current fault knobs. */
export class FaultState {
  /** Messages received by every connection (tests wait for a query to be in flight). */
  received = 0;
  constructor(public faults: TdsFaults = {}) {}

  /** True (and consumes one) when the next accepted connection must be dropped. */
  takeConnectionDrop(): boolean {
    const n = this.faults.dropNextConnections ?? 0;
    if (n <= 0) return false;
    this.faults = { ...this.faults, dropNextConnections: n - 1 };
    return true;
  }

  /** True (and clears the knob) when a response that has sent `rows` rows must cut its connection. */
  takeRowDrop(rows: number): boolean {
    const limit = this.faults.dropConnectionAfterRows;
    if (limit === undefined || rows < limit) return false;
    const { dropConnectionAfterRows: _dropped, ...rest } = this.faults;
    this.faults = rest;
    return true;
  }
}

export async function startTdsServer(o: TdsServerOptions): Promise<TdsServer> {
  const host = o.host ?? "127.0.0.1";
  const faults = new FaultState({ ...(o.faults ?? {}) });
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    if (faults.takeConnectionDrop()) {
      socket.resetAndDestroy();
      return;
    }
    new TdsConnection(socket, { user: o.user, password: o.password, database: o.database, handler: o.handler, faults });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    connectionString: `Server=${host},${port};Database=${o.database};User Id=${o.user};Password=${o.password};Encrypt=true;TrustServerCertificate=true`,
    setFaults(f: TdsFaults) {
      faults.faults = { ...f };
    },
    faults: () => ({ ...faults.faults }),
    received: () => faults.received,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
