/**
 * @octoha/standin: a simulated Octopus Server cluster on 127.0.0.1 (REST API, an Octopus.Server.exe
 * look-alike, SQL Server over TDS backed by sql.js) for octoha's tests, its demo and rehearsals.
 */
export { startStandin, octopusServerBinPath, CONTROL_ENV, CONTROL_FILE, MACHINE_ENV } from "./standin.js";
export type { ControlInfo, RestoreOptions, RunningStandin, StandinDatabase, StandinOptions } from "./standin.js";
export { describeConnectionString, parseConnectionString, RESTORE_VARIANTS } from "./databases.js";
export type { RestoreVariant } from "./databases.js";
export { Cluster, DEFAULT_VERSION, MaintenanceModeError, NotFoundError, TaskLogMissingError } from "./cluster.js";
export type { ClusterOptions, QueueTaskInput, SeedOptions, SeedResult } from "./cluster.js";
export type { ClusterState, SchemaVariant, SimFolders, SimNode, SimPackage, SimTask } from "./model.js";
export type { ExecutableFaults, ListenerFaults } from "./faults.js";
export type { StandinHttp } from "./http.js";
export { DEFAULT_INSTANCE, DEFAULT_PENDING_MS, MachineError, Machines, NODE_LOG, serviceNameFor } from "./machines.js";
export type {
  CreatedInstance,
  InstalledService,
  InstanceConfig,
  MachineErrorCode,
  MachineFaults,
  MachineView,
  ServiceState,
  SpareMachine,
} from "./machines.js";
export { ControlError, standinMachines } from "./machine-client.js";
export type { StandinMachines } from "./machine-client.js";
export { HOME, runOctopusServer } from "./octopus-server.js";
export type { ExeResult } from "./octopus-server.js";
export { DATABASE_HA_CONFIGURATIONS, DATABASE_HA_ENV } from "./database-ha.js";
export type { DatabaseHaConfiguration } from "./database-ha.js";
export { octopusRows, octopusTables } from "./octopus-tables.js";
export type { ColumnDef, Row, TableDef } from "./octopus-tables.js";
export { createSqlEngine } from "./sql-engine.js";
export { startTdsServer } from "./tds/server.js";
export type { TdsServer } from "./tds/server.js";
export { SqlServerError } from "./tds/handler.js";
export type { SqlHandler, SqlResultSet } from "./tds/handler.js";
export type { TdsFaults } from "./tds/faults.js";
export { xorshift } from "./prng.js";
