/**
 * A TDS 7.4 endpoint on loopback that the real `mssql`/tedious driver connects to (issue 4). It
 * authenticates one SQL login, answers SQL batches and sp_executesql through a SqlHandler, and can
 * be told to misbehave (dropped connections, latency). Wire details: wire.ts, requests.ts;
 * per-socket protocol: connection.ts.
 */
import net from "node:net";
import { TdsConnection } from "./connection.js";
import { FaultState, type TdsFaults } from "./faults.js";
import type { SqlHandler } from "./handler.js";

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
