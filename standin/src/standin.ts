/**
 * startStandin: the whole simulated Octopus cluster in-process (tests, the demo, `octoha standin`).
 * One Cluster state seen three ways: the HTTP API, the octopus-server executable (through the control
 * API and a control file in the data dir), and the TDS endpoint when that module is present.
 */
import { startTdsServer } from "./tds/server.js";
import type { TdsFaults } from "./tds/faults.js";
import { parseDatabaseHaConfiguration, type DatabaseHaConfiguration } from "./database-ha.js";
import { createSqlEngine } from "./sql-engine.js";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Cluster, type ClusterOptions } from "./cluster.js";
import { CONTROL_ENV, CONTROL_FILE, MACHINE_ENV, type ControlInfo } from "./control-info.js";
import { startStandinHttp, type StandinHttp } from "./http.js";
import { Machines, type DatabaseDirectory, type SpareMachine } from "./machines.js";
import { maxSchemaVersion, PRIMARY_DATABASE } from "./cluster.js";
import {
  describeConnectionString,
  openConnectionString,
  RESTORE_VARIANTS,
  restoredContent,
  type RestoreVariant,
  type ServedDatabase,
} from "./databases.js";

export { CONTROL_ENV, CONTROL_FILE, MACHINE_ENV, type ControlInfo } from "./control-info.js";
import type { ClusterState, SchemaVariant, SimFolders } from "./model.js";

export interface StandinOptions {
  dataDir: string;
  nodes?: number | string[];
  version?: string;
  schema?: SchemaVariant;
  /** Completed tasks with logs, artifacts and packages per node. */
  seedTasks?: number;
  taskDurationMs?: number;
  /** How long a started node answers 503 before serving (default 2 s of the cluster clock). */
  startupMs?: number;
  folders?: SimFolders;
  /** "real": the clock follows wall time; "manual": only advance() moves it (deterministic tests). */
  clock?: "real" | "manual";
  port?: number;
  /** Start the TDS endpoint when its module is built in (default true). */
  sql?: boolean;
  /**
   * How highly available the SQL endpoint claims the database is (database-ha.ts; default "standalone").
   * A string so the `standin` verb can pass a flag through; an unknown name refuses to start.
   */
  databaseHa?: DatabaseHaConfiguration | string;
  apiKey?: string;
  /** Start from <data>/state.json when it exists, and write it back on close. */
  snapshot?: boolean;
  /**
   * Octopus Server instances installed on each machine (host name = node name), default [OctopusServer].
   * The first is the node's instance; others are installations outside the simulated cluster.
   */
  instances?: Record<string, string[]>;
  /** The machine octoha runs on: where bin/octopus-server and serverExeArgv act (default the first node). */
  localMachine?: string;
  /**
   * Machines with Octopus Server installed and no instance yet, each with its own installed version (default the
   * cluster's): `octoha join` adds them through the look-alike's create-instance, database, configure and service.
   */
  spareMachines?: SpareMachine[];
  /** How long a service stays STOP_PENDING / START_PENDING after a stop or start request (wall ms, default 300). */
  servicePendingMs?: number;
  /** The cluster's master key (base64); default a random one. `database --masterKey` must match the database's. */
  masterKey?: string;
}

export interface RestoreOptions {
  /** The stand-in's handle of the new database, also its catalog (Database=) unless `catalog` is given. */
  name: string;
  variant?: RestoreVariant | string;
  catalog?: string;
  /** How highly available the new server claims to be (default availability-group: the DBA's HA instance). */
  databaseHa?: DatabaseHaConfiguration | string;
  /** Append MultiSubnetFailover=True to its connection string, as Octopus's AG documentation writes it. */
  multiSubnetFailover?: boolean;
  /** Restore from this database (default the live one: what the nodes use now). */
  from?: string;
}

/** A database the stand-in serves, as tests and `octoha standin` see it. */
export interface StandinDatabase {
  name: string;
  catalog: string;
  connectionString: string;
  databaseHa: DatabaseHaConfiguration;
  /** The database the cluster state (API, scheduler) is: the one the running nodes use. */
  live: boolean;
}

export interface RunningStandin {
  url: string;
  /**
   * Each node's own URL, the instances installed on its machine, and that machine's own Octopus.Server
   * (sets OCTOHA_STANDIN_MACHINE): it manages only those instances.
   */
  nodes: { name: string; url: string; serverExe: string; instances: string[] }[];
  apiKey: string;
  /** A key without AdministerSystem: maintenance mode blocks it. */
  userApiKey: string;
  controlUrl: string;
  controlToken: string;
  controlFile: string;
  sqlConnectionString?: string;
  /** Octopus.Server on the machine octoha runs on (localMachine), as a script path a plan's serverExe can name. */
  serverExe: string;
  /** The same as an argv prefix; needs OCTOHA_STANDIN_CONTROL in the environment. */
  serverExeArgv: string[];
  /** The machine octoha runs on (a node name). */
  localMachine: string;
  /** The spare machines: the URL each answers on once joined, its own Octopus.Server, its installed version. */
  spareMachines: { name: string; url: string; serverExe: string; version: string }[];
  /** The simulated machines: installed instances, service states, unreachable / access-denied knobs. */
  machines: Machines;
  dataDir: string;
  cluster: Cluster;
  http: StandinHttp;
  /** Faults of the TDS endpoint, when it runs. */
  setSqlFaults?: (faults: Record<string, unknown>) => void;
  /** The TDS fault knobs now (a fired one-shot knob is gone). */
  sqlFaults?: () => TdsFaults;
  /** Messages the TDS endpoint has received (a query held by a latency fault is counted on arrival). */
  sqlRequestsReceived?: () => number;
  /** The cluster's master key (what `database --masterKey` must give for its databases). */
  masterKey: string;
  /** Every database the stand-in serves, the cluster's own first. */
  databases(): StandinDatabase[];
  /**
   * The DBA's restore of the live database (or `from`) onto another SQL Server, taken now: served by
   * its own TDS listener on its own port. Needs the SQL endpoint (sql not false).
   */
  restoreDatabase(options: RestoreOptions): Promise<StandinDatabase>;
  /** The TDS fault knobs (as setSqlFaults) of one database's listener, by its name. */
  setDatabaseFaults(name: string, faults: TdsFaults): void;
  close(): Promise<void>;
}

interface SqlEndpoint {
  connectionString: string;
  port: number;
  password: string;
  setFaults(f: TdsFaults): void;
  faults(): TdsFaults;
  received(): number;
  close(): Promise<void>;
}

export async function startStandin(options: StandinOptions): Promise<RunningStandin> {
  const dataDir = path.resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const clusterOptions: ClusterOptions = {
    dataDir,
    nodes: options.nodes ?? 2,
    version: options.version,
    schema: options.schema,
    taskDurationMs: options.taskDurationMs,
    startupMs: options.startupMs,
    folders: options.folders,
  };
  const snapshotFile = path.join(dataDir, "state.json");
  const cluster =
    options.snapshot && existsSync(snapshotFile)
      ? Cluster.fromSnapshot(clusterOptions, JSON.parse(readFileSync(snapshotFile, "utf8")) as ClusterState)
      : new Cluster(clusterOptions);
  if (options.seedTasks && cluster.tasks().length === 0)
    cluster.seedHistory({ tasksPerNode: options.seedTasks, artifactsPerTask: 1, packagesPerNode: 2, scheduledJobLogs: true });

  const databaseHa = parseDatabaseHaConfiguration(options.databaseHa ?? "standalone", "databaseHa");
  const apiKey = options.apiKey ?? `API-${randomBytes(16).toString("hex").toUpperCase().slice(0, 26)}`;
  const userApiKey = `API-${randomBytes(16).toString("hex").toUpperCase().slice(0, 26)}`;
  const controlToken = randomBytes(24).toString("hex");
  const masterKey = options.masterKey ?? randomBytes(16).toString("base64");
  const installed = cluster.state().installation?.installedAt ?? new Date(cluster.now()).toISOString();
  const sql = options.sql !== false ? await startSqlEndpoint(cluster, PRIMARY_DATABASE, "Octopus", databaseHa, installed) : undefined;
  /** Each served database's listener, by handle (lower case). */
  const endpoints = new Map<string, SqlEndpoint>(sql ? [[PRIMARY_DATABASE.toLowerCase(), sql]] : []);
  // Without SQL the cluster's database still has a connection string: one that no listener answers (port 0).
  const noSqlPassword = `Sa-${randomBytes(12).toString("hex")}`;
  const served: ServedDatabase[] = [
    {
      name: PRIMARY_DATABASE,
      catalog: "Octopus",
      host: "127.0.0.1",
      port: sql?.port ?? 0,
      user: SQL_LOGIN,
      password: sql?.password ?? noSqlPassword,
      connectionString: sql?.connectionString ?? connectionStringFor(0, "Octopus", noSqlPassword),
      masterKey,
      databaseHa,
    },
  ];
  const directory: DatabaseDirectory = {
    open(connectionString) {
      const opened = openConnectionString(served, connectionString);
      if ("failure" in opened) return opened;
      const db = opened.database;
      // INFERRED: a node refuses a database whose schema is older than its version needs (it would need
      // `database --upgrade`); a stand-in never upgrades a database on its own.
      if (maxSchemaVersion(cluster.databaseState(db.name)) < cluster.requiredSchemaVersion())
        return {
          failure: `The database schema is older than Octopus Server ${cluster.version} needs (SchemaVersions is missing upgrade scripts): upgrade the database (Octopus.Server.exe database --upgrade) or point the node at the right database.`,
        };
      return { database: db.name };
    },
    masterKey: (connectionString) => {
      const opened = openConnectionString(served, connectionString);
      return "failure" in opened ? undefined : opened.database.masterKey;
    },
    describe: describeConnectionString,
  };
  const machines = new Machines(cluster, {
    instances: options.instances,
    localMachine: options.localMachine,
    pendingMs: options.servicePendingMs,
    spares: options.spareMachines,
    databases: directory,
    initialConfig: { connectionString: served[0]!.connectionString, masterKey },
  });
  const http = await startStandinHttp({
    machines,
    cluster,
    apiKey,
    userApiKey,
    controlToken,
    port: options.port,
    controlExtensions: { "sql-faults": (body) => sql?.setFaults(body) },
    spareHosts: (options.spareMachines ?? []).map((m) => m.host),
  });
  const describe = (d: ServedDatabase): StandinDatabase => ({
    name: d.name,
    catalog: d.catalog,
    connectionString: d.connectionString,
    databaseHa: d.databaseHa,
    live: d.name.toLowerCase() === cluster.liveDatabase.toLowerCase(),
  });
  const restoreDatabase = async (o: RestoreOptions): Promise<StandinDatabase> => {
    if (!sql) throw new Error("restoreDatabase needs the stand-in's SQL endpoint: start it without sql: false.");
    const variant = RESTORE_VARIANTS.find((v) => v === (o.variant ?? "faithful"));
    if (!variant) throw new RangeError(`variant is "${o.variant}"; use one of: ${RESTORE_VARIANTS.join(", ")}`);
    if (!/^[A-Za-z][A-Za-z0-9_-]{0,127}$/.test(o.name)) throw new RangeError(`name '${o.name}' is not a plain database name.`);
    const catalog = o.catalog ?? o.name;
    const ha = parseDatabaseHaConfiguration(o.databaseHa ?? "availability-group", "databaseHa");
    const content = restoredContent(cluster.databaseState(o.from ?? cluster.liveDatabase), variant, new Date(cluster.now()).toISOString());
    cluster.addDatabase(o.name, content);
    // A restored database's create_date is when it was restored.
    const endpoint = await startSqlEndpoint(cluster, o.name, catalog, ha, new Date(cluster.now()).toISOString());
    endpoints.set(o.name.toLowerCase(), endpoint);
    const connectionString = endpoint.connectionString + (o.multiSubnetFailover ? ";MultiSubnetFailover=True" : "");
    const db: ServedDatabase = {
      name: o.name,
      catalog,
      host: "127.0.0.1",
      port: endpoint.port,
      user: SQL_LOGIN,
      password: endpoint.password,
      connectionString,
      // A restore is the same installation's data, encrypted with the same master key; another installation's is not.
      masterKey: variant === "other-installation" ? randomBytes(16).toString("base64") : masterKey,
      databaseHa: ha,
    };
    served.push(db);
    return describe(db);
  };
  const stopClock = options.clock === "manual" ? () => undefined : cluster.startRealTimeDriver();

  const controlFile = path.join(dataDir, CONTROL_FILE);
  const info: ControlInfo = {
    controlUrl: http.controlUrl,
    token: controlToken,
    nodes: cluster.nodes().map((n) => n.name),
    localMachine: machines.localMachine,
  };
  writeFileSync(controlFile, JSON.stringify(info, null, 2), { mode: 0o600 });
  const binJs = octopusServerBinPath();
  const serverExe = path.join(dataDir, "bin", "octopus-server");
  mkdirSync(path.dirname(serverExe), { recursive: true });
  const writeScript = (file: string, nodeEnv: string) => {
    writeFileSync(
      file,
      `#!/bin/sh\n${nodeEnv}${CONTROL_ENV}=${shellQuote(controlFile)} exec ${shellQuote(process.execPath)} ${shellQuote(binJs)} "$@"\n`,
    );
    chmodSync(file, 0o755);
  };
  writeScript(serverExe, "");
  // One script per machine: "Octopus.Server.exe as run on that node's machine", for plans' per-node service commands.
  const nodeServerExes: Record<string, string> = {};
  for (const name of [...info.nodes, ...(options.spareMachines ?? []).map((m) => m.host)]) {
    nodeServerExes[name] = path.join(dataDir, "bin", `octopus-server-${name}`);
    writeScript(nodeServerExes[name], `${MACHINE_ENV}=${shellQuote(name)} `);
  }

  return {
    url: http.url,
    nodes: Object.entries(http.nodeUrls).map(([name, url]) => ({
      name,
      url,
      serverExe: nodeServerExes[name]!,
      instances: machines.machine(name).instances,
    })),
    spareMachines: Object.entries(http.spareUrls).map(([name, url]) => ({
      name,
      url,
      serverExe: nodeServerExes[name]!,
      version: machines.machine(name).octopusVersion,
    })),
    apiKey,
    userApiKey,
    controlUrl: http.controlUrl,
    controlToken,
    controlFile,
    sqlConnectionString: sql?.connectionString,
    serverExe,
    serverExeArgv: [process.execPath, binJs],
    localMachine: machines.localMachine,
    machines,
    dataDir,
    cluster,
    http,
    setSqlFaults: sql ? (f) => sql?.setFaults(f) : undefined,
    sqlFaults: sql ? () => sql?.faults() ?? {} : undefined,
    sqlRequestsReceived: sql ? () => sql?.received() ?? 0 : undefined,
    masterKey,
    databases: () => served.map(describe),
    restoreDatabase,
    setDatabaseFaults(name, faults) {
      const endpoint = endpoints.get(name.toLowerCase());
      if (!endpoint) throw new RangeError(`There is no database '${name}' served over TDS (${[...endpoints.keys()].join(", ")}).`);
      endpoint.setFaults(faults);
    },
    async close() {
      stopClock();
      machines.close();
      for (const e of endpoints.values()) await e.close();
      await http.close();
      if (options.snapshot) writeFileSync(snapshotFile, JSON.stringify(cluster.state(), null, 2));
    },
  };
}

/** dist/octopus-server-bin.js of this package, also when this module runs from src/ under vitest. */
export function octopusServerBinPath(): string {
  const here = fileURLToPath(new URL("./octopus-server-bin.js", import.meta.url));
  if (existsSync(here)) return here;
  return path.resolve(path.dirname(here), "..", "dist", "octopus-server-bin.js");
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

const SQL_LOGIN = "octoha_reader";

function connectionStringFor(port: number, catalog: string, password: string): string {
  return `Server=127.0.0.1,${port};Database=${catalog};User Id=${SQL_LOGIN};Password=${password};Encrypt=true;TrustServerCertificate=true`;
}

/**
 * One stand-in database seen over TDS: the real mssql driver connects here and reads its Octopus tables
 * (the live cluster state when it is the live database, else its parked content).
 */
async function startSqlEndpoint(
  cluster: Cluster,
  name: string,
  catalog: string,
  databaseHa: DatabaseHaConfiguration,
  created: string,
): Promise<SqlEndpoint> {
  const password = `Sa-${randomBytes(12).toString("hex")}`;
  const server = await startTdsServer({
    host: "127.0.0.1",
    port: 0,
    user: SQL_LOGIN,
    password,
    database: catalog,
    handler: createSqlEngine(
      { state: () => cluster.databaseState(name), revision: () => cluster.revision() },
      // Each listener is another SQL Server: its own name, and the database's own creation (or restore) time.
      { databaseHa, server: { serverName: `SQL-${name.toUpperCase()}`, catalog, created } },
    ),
  });
  return {
    connectionString: server.connectionString,
    port: server.port,
    password,
    setFaults: (f) => server.setFaults(f),
    faults: () => server.faults(),
    received: () => server.received(),
    close: () => server.close(),
  };
}
