/**
 * In-memory doubles of every port in types.ts, sharing one small fake cluster, for step tests.
 * They behave like the real adapters (update() returns the new node, isOn() reflects set(), a
 * stopped node serves no logs) and have knobs for the failures steps must survive. Every call is
 * recorded in `calls` so a test can assert what a step did, in order.
 */
import type {
  DatabaseInventory,
  MaintenanceMode,
  NodePing,
  NodeRow,
  NodeServices,
  OctopusPorts,
  PackageRow,
  SchemaShape,
  ServerFolderPaths,
  ServerFolders,
  ServerNode,
  ServerNodes,
  ServerTask,
  ServerTasks,
  ServiceState,
  TaskRow,
  VersionProbe,
} from "../../src/octopus/types.js";
import { isActiveState } from "../../src/octopus/types.js";
import { folderDefaults } from "../../src/octopus/folder-defaults.js";
import { featuresOf } from "../../src/octopus/versions.js";
import { OctohaError } from "../../src/shared/errors.js";

export interface FakeNode {
  id: string;
  name: string;
  maxConcurrentTasks: number;
  isDraining: boolean;
  service: ServiceState;
}

export interface FakeTask {
  id: string;
  name: string;
  state: string;
  /** As the database stores it: a node name or a node id. */
  serverNode: string | null;
  completedTime: string | null;
  /** Raw log text per node that can serve it (what /api/tasks/{id}/raw returns through that node). */
  logVia?: Record<string, string>;
}

export interface FakeClusterState {
  version: string;
  maintenance: boolean;
  nodes: FakeNode[];
  tasks: FakeTask[];
  packages: PackageRow[];
  /** Stored folder settings (what `path` wrote); a key nobody set is absent. */
  folders: ServerFolderPaths;
  /** Octopus.Home as show-configuration reports it; undefined: not reported (unset keys' folders unknown). */
  home?: string;
  schema: SchemaShape;
  encrypted: boolean;
}

export interface FakeKnobs {
  /** Tasks (ids) that never finish on their own: a drain waiting on them times out. */
  stuckTasks: Set<string>;
  /** Executing tasks finish after this many listActive() polls while a node drains (0 = at the first such poll). */
  pollsUntilTasksFinish: number;
  /** Nodes whose start() throws. */
  nodesFailingToStart: Set<string>;
  /** A started node answers "unknown" (503 while Octopus starts up) to this many state() calls first. */
  statePollsWhileStarting: number;
  /** ServerFolders.write() throws for these keys. */
  failingPathWrites: Set<keyof ServerFolderPaths>;
  /** Kinds the fake server version does not support: write() refuses them. */
  unsupportedPathKeys: Set<keyof ServerFolderPaths>;
  /** probe() throws: a schema we do not recognise. */
  unknownSchema: boolean;
  /** The next N task inventories lose the SQL connection after the first row (retryable). */
  sqlDropsRemaining: number;
}

export interface FakeCall {
  port: keyof OctopusPorts;
  method: string;
  args: unknown[];
}

export interface FakeCluster {
  state: FakeClusterState;
  knobs: FakeKnobs;
  calls: FakeCall[];
  ports: OctopusPorts;
  /** Calls that changed something (not reads). */
  writes(): FakeCall[];
}

const READ_METHODS = new Set([
  "isOn",
  "list",
  "ping",
  "listActive",
  "readRawLog",
  "read",
  "state",
  "probe",
  "tasks",
  "packages",
  "nodes",
  "connectionInfo",
  "serverVersion",
  "close",
]);

export function defaultFakeState(): FakeClusterState {
  return {
    version: "2024.1.1000",
    maintenance: false,
    nodes: [
      { id: "OctopusServerNodes-OCTO1", name: "OCTO1", maxConcurrentTasks: 5, isDraining: false, service: "running" },
      { id: "OctopusServerNodes-OCTO2", name: "OCTO2", maxConcurrentTasks: 10, isDraining: false, service: "running" },
    ],
    tasks: [],
    packages: [],
    folders: { taskLogs: "C:\\Octopus\\TaskLogs", artifacts: "C:\\Octopus\\Artifacts", packages: "C:\\Octopus\\Packages" },
    home: "C:\\Octopus",
    schema: {
      taskNodeColumn: "ServerNodeId",
      nodeTable: "OctopusServerNode",
      hasNodeStatusTable: true,
      hasSpaceId: true,
      hasNuGetPackage: true,
    },
    encrypted: true,
  };
}

export function createFakeCluster(state: FakeClusterState = defaultFakeState(), knobs: Partial<FakeKnobs> = {}): FakeCluster {
  const k: FakeKnobs = {
    stuckTasks: new Set(),
    pollsUntilTasksFinish: 0,
    nodesFailingToStart: new Set(),
    statePollsWhileStarting: 0,
    failingPathWrites: new Set(),
    unsupportedPathKeys: new Set(),
    unknownSchema: false,
    sqlDropsRemaining: 0,
    ...knobs,
  };
  const calls: FakeCall[] = [];
  const record = (port: keyof OctopusPorts, method: string, args: unknown[]) => calls.push({ port, method, args });
  const nodeById = (id: string) => {
    const n = state.nodes.find((x) => x.id === id);
    if (!n) throw new OctohaError(`No Octopus node with id ${id}`, { code: "NODE_NOT_FOUND", node: id });
    return n;
  };
  const nodeByName = (name: string) => {
    const n = state.nodes.find((x) => x.name.toLowerCase() === name.toLowerCase());
    if (!n) throw new OctohaError(`No Octopus node named ${name}`, { code: "NODE_NOT_FOUND", node: name });
    return n;
  };
  const ownerName = (t: FakeTask) => {
    const v = t.serverNode?.toLowerCase();
    return state.nodes.find((n) => n.id.toLowerCase() === v || n.name.toLowerCase() === v)?.name;
  };
  /** Each poll during a drain brings executing tasks one step closer to finishing (unless stuck). */
  let polls = 0;
  const advanceTasks = () => {
    if (!state.nodes.some((n) => n.isDraining)) return;
    polls++;
    if (polls < k.pollsUntilTasksFinish) return;
    for (const t of state.tasks) {
      if ((t.state === "Executing" || t.state === "Cancelling") && !k.stuckTasks.has(t.id)) {
        t.state = t.state === "Cancelling" ? "Canceled" : "Success";
        t.completedTime = new Date(0).toISOString();
      }
    }
  };
  const runningOn = (n: FakeNode) =>
    state.tasks.filter((t) => (t.state === "Executing" || t.state === "Cancelling") && ownerName(t) === n.name).length;
  const toServerNode = (n: FakeNode): ServerNode => ({
    id: n.id,
    name: n.name,
    maxConcurrentTasks: n.maxConcurrentTasks,
    isDraining: n.isDraining,
    isOffline: n.service !== "running",
    runningTaskCount: runningOn(n),
    version: state.version,
  });

  const maintenance: MaintenanceMode = {
    async isOn() {
      record("maintenance", "isOn", []);
      return state.maintenance;
    },
    async set(on) {
      record("maintenance", "set", [on]);
      state.maintenance = on;
    },
  };

  const nodes: ServerNodes = {
    async list() {
      record("nodes", "list", []);
      return state.nodes.map(toServerNode);
    },
    async update(nodeId, change) {
      record("nodes", "update", [nodeId, change]);
      const n = nodeById(nodeId);
      if (change.isDraining !== undefined) n.isDraining = change.isDraining;
      if (change.maxConcurrentTasks !== undefined) n.maxConcurrentTasks = change.maxConcurrentTasks;
      return toServerNode(n);
    },
    async ping(nodeName): Promise<NodePing> {
      record("nodes", "ping", [nodeName]);
      const n = nodeByName(nodeName);
      return n.service !== "running" ? "offline" : n.isDraining ? "draining" : "online";
    },
  };

  const tasks: ServerTasks = {
    async listActive() {
      record("tasks", "listActive", []);
      advanceTasks();
      return state.tasks
        .filter((t) => isActiveState(t.state))
        .map((t): ServerTask => ({ id: t.id, name: t.name, state: t.state, serverNode: t.serverNode, completedTime: t.completedTime }));
    },
    async cancel(taskId) {
      record("tasks", "cancel", [taskId]);
      const t = state.tasks.find((x) => x.id === taskId);
      if (!t) throw new OctohaError(`No task ${taskId}`, { code: "TASK_NOT_FOUND" });
      // A cancelled task stops even if it would otherwise never finish.
      k.stuckTasks.delete(taskId);
      t.state = t.state === "Queued" ? "Canceled" : "Cancelling";
    },
    async readRawLog(taskId, viaNodeName) {
      record("tasks", "readRawLog", [taskId, viaNodeName]);
      const t = state.tasks.find((x) => x.id === taskId);
      const via = viaNodeName ? nodeByName(viaNodeName) : state.nodes.find((n) => n.service === "running");
      if (!t) throw new OctohaError(`No task ${taskId}`, { code: "TASK_NOT_FOUND" });
      if (!via || via.service !== "running")
        throw new OctohaError(`Node ${viaNodeName ?? "(any)"} is not running`, {
          code: "NODE_OFFLINE",
          behaviour: "retryable",
          node: viaNodeName,
        });
      const text = t.logVia?.[via.name];
      if (text === undefined)
        throw new OctohaError(`Task log for ${taskId} is missing on node ${via.name}`, { code: "TASK_LOG_MISSING", node: via.name });
      return text;
    },
  };

  const folders: ServerFolders = {
    async read() {
      record("folders", "read", []);
      return { stored: { ...state.folders }, defaults: folderDefaults(state.folders, state.home, featuresOf(state.version)) };
    },
    async write(paths) {
      record("folders", "write", [{ ...paths }]);
      for (const key of Object.keys(paths) as (keyof ServerFolderPaths)[]) {
        if (k.unsupportedPathKeys.has(key))
          throw new OctohaError(`This Octopus version has no path --${key}`, { code: "PATH_OPTION_UNSUPPORTED" });
        if (k.failingPathWrites.has(key)) throw new OctohaError(`Octopus.Server.exe path --${key} failed`, { code: "PATH_WRITE_FAILED" });
      }
      Object.assign(state.folders, paths);
    },
  };

  /** State polls a started node still answers as starting, by node name. */
  const starting = new Map<string, number>();
  const services: NodeServices = {
    async stop(nodeName) {
      record("services", "stop", [nodeName]);
      nodeByName(nodeName).service = "stopped";
    },
    async start(nodeName) {
      record("services", "start", [nodeName]);
      if (k.nodesFailingToStart.has(nodeName))
        throw new OctohaError(`Node ${nodeName} did not start`, { code: "SERVICE_START_FAILED", node: nodeName });
      const n = nodeByName(nodeName);
      if (n.service !== "running" && k.statePollsWhileStarting > 0) starting.set(n.name, k.statePollsWhileStarting);
      n.service = "running";
    },
    async state(nodeName) {
      record("services", "state", [nodeName]);
      const n = nodeByName(nodeName);
      const left = starting.get(n.name) ?? 0;
      if (n.service === "running" && left > 0) {
        starting.set(n.name, left - 1);
        return "unknown";
      }
      return n.service;
    },
  };

  const inventory: DatabaseInventory = {
    async probe() {
      record("inventory", "probe", []);
      if (k.unknownSchema) throw new OctohaError("The Octopus database schema is not one octoha recognises", { code: "SCHEMA_UNKNOWN" });
      return { ...state.schema };
    },
    async *tasks(options) {
      record("inventory", "tasks", [options]);
      const drop = k.sqlDropsRemaining > 0;
      if (drop) k.sqlDropsRemaining--;
      let rows = 0;
      // The SQL adapter reads in Id order (keyset paging); so does the fake.
      const ordered = [...state.tasks].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      for (const t of ordered) {
        if (drop && rows === 1)
          throw new OctohaError("SQL connection lost while reading ServerTask", { code: "SQL_CONNECTION_LOST", behaviour: "retryable" });
        if (options?.completedOnly && isActiveState(t.state)) continue;
        rows++;
        yield { id: t.id, state: t.state, serverNode: t.serverNode, completedTime: t.completedTime } satisfies TaskRow;
      }
    },
    async *packages() {
      record("inventory", "packages", []);
      for (const p of state.packages) yield { ...p };
    },
    async nodes() {
      record("inventory", "nodes", []);
      return state.nodes.map((n): NodeRow => ({
        id: n.id,
        name: n.name,
        maxConcurrentTasks: n.maxConcurrentTasks,
        isDraining: n.isDraining,
      }));
    },
    async connectionInfo() {
      record("inventory", "connectionInfo", []);
      return { encrypted: state.encrypted, server: "sql01", database: "Octopus" };
    },
    async close() {
      record("inventory", "close", []);
    },
  };

  const version: VersionProbe = {
    async serverVersion() {
      record("version", "serverVersion", []);
      return state.version;
    },
  };

  return {
    state,
    knobs: k,
    calls,
    ports: { maintenance, nodes, tasks, folders, services, inventory, version },
    writes: () => calls.filter((c) => !READ_METHODS.has(c.method)),
  };
}
