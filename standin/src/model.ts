/**
 * The simulated Octopus cluster, in one place (issue 4). The HTTP API, the octopus-server
 * executable and the TDS endpoint are three views of this one state. Plain data, JSON-safe.
 */

export type SchemaVariant =
  /** 3.x: ServerTask.ServerNode holds the node name; OctopusServerNode Id = name. */
  | "3.x"
  /** 2018.x–2019.x+: ServerTask.ServerNodeId; OctopusServerNode with Id "OctopusServerNodes-<NAME>". */
  | "2018+";

export interface SimNode {
  id: string;
  name: string;
  maxConcurrentTasks: number;
  /** Drain flag (API IsInMaintenanceMode). */
  isDraining: boolean;
  lastSeen: string;
  /** Service state; a stopped node takes no tasks and its API answers nothing. */
  running: boolean;
  /**
   * Until this time (cluster clock, ISO) a started node is still starting up: its API answers 503 and
   * the load balancer sends it nothing, as a real Octopus Server does for a while after its service starts.
   */
  startingUntil?: string;
  /** Folder paths (as Octopus spells them) this node read at its last start: nodes read folder paths at start. */
  effectiveFolders: SimFolders;
  /**
   * How this node's OS resolves Octopus paths to folders on this machine. The classic HA
   * misconfiguration is every node using C:\Octopus\TaskLogs, where each node's C:\ is its own disk:
   * [{ prefix: "C:\\", local: "<data>/nodes/OCTO1/C" }, { prefix: "\\\\fs01\\share", local: "<data>/shared" }].
   * Matching is case-insensitive on the prefix (Windows).
   */
  pathMap: { prefix: string; local: string }[];
  /**
   * The stand-in database (its handle, see databases.ts) this node's process connected to when it last
   * started: what its own connection string named then. Machine-level, like running; undefined = the one
   * the cluster started on.
   */
  database?: string;
}

export interface SimFolders {
  taskLogs: string;
  artifacts: string;
  packages: string;
  clusterShared?: string;
  imports?: string;
  eventExports?: string;
  /** path --telemetry (2020.x): performance and temporal telemetry files. */
  telemetry?: string;
}

export interface SimTask {
  id: string;
  name: string;
  description: string;
  state: "Queued" | "Executing" | "Failed" | "Canceled" | "TimedOut" | "Success" | "Cancelling";
  /** Node *name* that picked it up (the 3.x column holds the name; 2018+ holds the node Id). */
  serverNode: string | null;
  queueTime: string;
  startTime: string | null;
  completedTime: string | null;
  spaceId: string;
  /** System tasks are not blocked by maintenance mode. */
  isSystem: boolean;
  /** Task-log file name relative to TaskLogs: servertasks-<n>_<SUFFIX>.txt or a per-task dir. */
  logFileName: string;
}

export interface SimPackage {
  id: string;
  packageId: string;
  version: string;
  spaceId: string;
}

export interface ClusterState {
  version: string;
  schema: SchemaVariant;
  isInMaintenanceMode: boolean;
  /** Cluster-wide folders as stored in the DB (written by `path`). Per-node overrides model misconfiguration. */
  folders: SimFolders;
  nodes: SimNode[];
  tasks: SimTask[];
  packages: SimPackage[];
  /** The SchemaVersions rows (upgrade scripts applied to this database); absent: one row for `version`. */
  schemaVersions?: SimSchemaVersion[];
  /** Which installation this database belongs to (a restore keeps it; another installation has its own). */
  installation?: SimInstallation;
}

export interface SimSchemaVersion {
  id: number;
  scriptName: string;
  applied: string;
}

export interface SimInstallation {
  /** The API root document's InstallationId. Where Octopus stores it in SQL is UNKNOWN (research-database §5). */
  installationId: string;
  /** OctopusServerInstallationHistory.Installed of every row. */
  installedAt: string;
}
