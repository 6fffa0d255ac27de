/**
 * The small interfaces octoha uses to talk to Octopus (design.md, "Talking to Octopus").
 * Steps depend on these, never on HTTP, SQL or child processes. One concern each; the REST,
 * CLI and SQL adapters implement them, and test/octopus/fakes.ts has in-memory doubles.
 * Field names follow reference/octopus.md.
 */

import type { DatabaseHaFacts } from "./sql/ha-probe.js";
import type { DatabaseSnapshot } from "./sql/restore-compare.js";

/** Cluster-wide maintenance mode: REST GET/PUT /api/maintenanceconfiguration. */
export interface MaintenanceMode {
  isOn(): Promise<boolean>;
  set(on: boolean): Promise<void>;
}

export interface ServerNode {
  /** API id: "OctopusServerNodes-OCTO1" on 2022.4; the name itself on 3.x. Never parse it. */
  id: string;
  /** Node name, as Octopus knows it: match nodes by this. */
  name: string;
  /** Task cap. */
  maxConcurrentTasks: number;
  /** The node drain flag (API/DB field IsInMaintenanceMode). */
  isDraining: boolean;
  isOffline?: boolean;
  lastSeen?: string;
  runningTaskCount?: number;
  version?: string;
}

export type NodePing = "online" | "draining" | "offline";

/** A ping and, when it failed with an HTTP answer, that status (503: the node is still starting). */
export interface NodePingAnswer {
  ping: NodePing;
  status?: number;
}

/**
 * The code of the error a request to one node's own URL fails with when another node answered it
 * (the ping's Name, or the Octopus-Node header, names another node): a load-balanced or mistyped
 * nodes[].url. Never "offline": waiting, checking or reading logs there would be about the wrong node.
 */
export const OTHER_NODE_ANSWERED = "OCTOPUS_NODE_URL_OTHER_NODE";

/** True for that error (steps that read any failed ping as "offline" must let it through). */
export function answeredByOtherNode(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === OTHER_NODE_ANSWERED;
}

/** A failed ping read as "offline" (a node still starting), except another node answering: rethrown. */
export function offlineUnlessOtherNode(error: unknown): "offline" {
  if (answeredByOtherNode(error)) throw error;
  return "offline";
}

/** Nodes, drain flag and task cap: REST /api/octopusservernodes (+/summary, /{id}, /ping). */
export interface ServerNodes {
  /** Every node with its running-task count (from /summary). */
  list(): Promise<ServerNode[]>;
  /** PUT /api/octopusservernodes/{id}: change drain flag and/or task cap. */
  update(nodeId: string, change: { isDraining?: boolean; maxConcurrentTasks?: number }): Promise<ServerNode>;
  /** GET /api/octopusservernodes/ping on that node's own base URL: 200 online, 418 draining. */
  ping(nodeName: string): Promise<NodePing>;
  /** The same ping with the HTTP status of a failed one; adapters that cannot tell leave it out (callers use ping). */
  pingAnswer?(nodeName: string): Promise<NodePingAnswer>;
}

/**
 * Task states (string enum in DB and API): Queued, Executing, Failed, Canceled, TimedOut, Success,
 * Cancelling. Active = Queued, Executing, Cancelling.
 */
export const ACTIVE_TASK_STATES: readonly string[] = ["Queued", "Executing", "Cancelling"];
/** Unknown states (e.g. a newer "Pending") count as active: safer to wait than to copy under a writer. */
export function isActiveState(state: string): boolean {
  return ACTIVE_TASK_STATES.includes(state) || !["Failed", "Canceled", "TimedOut", "Success"].includes(state);
}

export interface ServerTask {
  id: string;
  name: string;
  description?: string;
  state: string;
  /** Node that runs/ran it (API ServerNode). */
  serverNode?: string | null;
  queueTime?: string;
  startTime?: string | null;
  completedTime?: string | null;
  spaceId?: string | null;
}

/** Tasks through the API. */
export interface ServerTasks {
  /** Every non-completed task, all spaces, system tasks included. */
  listActive(): Promise<ServerTask[]>;
  /** POST /api/tasks/{id}/cancel */
  cancel(taskId: string): Promise<void>;
  /** GET /api/tasks/{id}/raw through one node's own base URL (bypassing the load balancer). */
  readRawLog(taskId: string, viaNodeName?: string): Promise<string>;
}

/** Folder paths as Octopus sees them (Windows paths for Windows servers). */
export interface ServerFolderPaths {
  taskLogs?: string;
  artifacts?: string;
  /** The built-in repository (path --nugetRepository). */
  packages?: string;
  clusterShared?: string;
  imports?: string;
  eventExports?: string;
}

/** The server folders as read: what is stored, and what a key nobody set resolves to. */
export interface ServerFolderReading {
  /** Values stored in the database (what `path` last wrote). A key the version has but nobody set is absent. */
  stored: ServerFolderPaths;
  /**
   * The folder Octopus uses for each key it has that is not stored (src/octopus/folder-defaults.ts), when
   * knowable: a key missing from both `stored` and `defaults` is one whose folder octoha cannot tell.
   */
  defaults: ServerFolderPaths;
}

/** Each key's folder as Octopus uses it: the stored value, else its default. */
export function effectiveFolders(reading: ServerFolderReading): ServerFolderPaths {
  return { ...reading.defaults, ...reading.stored };
}

/** Server folders: `Octopus.Server.exe show-configuration` to read, `path` to write (stored in the DB, cluster-wide). */
export interface ServerFolders {
  read(): Promise<ServerFolderReading>;
  /** Writes only the keys given; refuses keys the server version does not have. */
  write(paths: ServerFolderPaths): Promise<void>;
}

export type ServiceState = "running" | "stopped" | "unknown";

/** What a read-only look at one node's service found (`check`, dry-run). */
export interface NodeServiceCheck {
  /** How the node is reached: `sc.exe \\OCTO2 (service OctopusDeploy)`. */
  recipe: string;
  /** The recipe's own status; absent when the recipe has none (its ping decides) or it failed. */
  status?: { state: "running" | "stopped" | "pending" | "other"; raw: string };
  /** The node's ping as a service state. */
  ping: ServiceState;
  /** Both witnesses together (absent when the status failed). */
  state?: ServiceState;
  /** Why the status could not be read, and the fix. */
  error?: { code: string; message: string; hint?: string | undefined };
}

/** Stop/start the Octopus service on one node, through that node's control recipe (src/octopus/control). */
export interface NodeServices {
  stop(nodeName: string): Promise<void>;
  start(nodeName: string): Promise<void>;
  /** Running/stopped as the recipe's status and the node's ping agree; "unknown" when they do not. */
  state(nodeName: string): Promise<ServiceState>;
  /** Read-only: the node's recipe, status and ping, or why they cannot be read. */
  check?(nodeName: string): Promise<NodeServiceCheck>;
  /**
   * Runs `Octopus.Server.exe database --instance … --connectionString=…` where the node runs (its own config
   * file keeps the string). The string is a secret: never logged, only on that command's own argv.
   */
  setConnectionString?(nodeName: string, connectionString: string): Promise<void>;
}

/** A ServerTask row read from the database (read-only inventory). */
export interface TaskRow {
  id: string;
  state: string;
  /** Value of ServerTask.ServerNode (3.x) or ServerNodeId (2018+), as stored: may be a name or an id. */
  serverNode: string | null;
  completedTime: string | null;
}

/** A built-in feed package indexed in the NuGetPackage table. */
export interface PackageRow {
  id: string;
  packageId: string;
  version: string;
  spaceId?: string | null;
}

export interface NodeRow {
  id: string;
  name: string;
  maxConcurrentTasks?: number;
  isDraining?: boolean;
}

/** Which spelling of the schema the probe found. */
export interface SchemaShape {
  /** Column on ServerTask naming the node. */
  taskNodeColumn: "ServerNode" | "ServerNodeId";
  nodeTable: "OctopusServerNode" | "OctopusServerNodes";
  hasNodeStatusTable: boolean;
  hasSpaceId: boolean;
  hasNuGetPackage: boolean;
}

/** Read-only SQL inventory. Streams rows: never the whole table in memory. */
export interface DatabaseInventory {
  probe(): Promise<SchemaShape>;
  tasks(options?: { completedOnly?: boolean }): AsyncIterable<TaskRow>;
  packages(): AsyncIterable<PackageRow>;
  nodes(): Promise<NodeRow[]>;
  /** Whether the SQL connection is encrypted (report it; warn when not). */
  connectionInfo(): Promise<{ encrypted: boolean; server: string; database: string }>;
  /** Whether the database itself is highly available (read-only; unanswerable questions come back as unknown). */
  databaseHa?(): Promise<DatabaseHaFacts>;
  /** Schema version, installation identity and row counts, for the faithful-restore comparison (read-only). */
  snapshot?(): Promise<DatabaseSnapshot>;
  /** Each node's heartbeat (LastSeen) by node name; undefined when the schema keeps it elsewhere. */
  heartbeats?(): Promise<Record<string, string> | undefined>;
  close(): Promise<void>;
}

/** Server version: REST GET /api → Version. */
export interface VersionProbe {
  serverVersion(): Promise<string>;
}

/** Everything a step may use to talk to Octopus. Steps take the slices they need. */
export interface OctopusPorts {
  maintenance: MaintenanceMode;
  nodes: ServerNodes;
  tasks: ServerTasks;
  folders: ServerFolders;
  services: NodeServices;
  inventory: DatabaseInventory;
  version: VersionProbe;
  /** database.moveTo's database, read-only (absent without a database section). */
  targetDatabase?: DatabaseInventory;
}
