/**
 * The simulated Octopus cluster (issue 4): one state, changed only here, deterministic under a fake
 * clock. The HTTP API, the octopus-server executable and the TDS endpoint are views of it.
 *
 * What it models, after reference/octopus.md:
 * - queued tasks are picked up FIFO by running, non-draining nodes under their task cap, the least
 *   loaded node first (§1.4 queue behaviour), when the clock moves (nodes poll the queue; advance(0)
 *   is one poll); they run for a configurable time;
 * - a task writes its log into the executing node's *effective* TaskLogs folder, resolved through that
 *   node's pathMap, so node-local C:\ folders really scatter logs (§6.2);
 * - maintenance mode blocks new user tasks but not system tasks or already-queued ones (§6.3);
 * - a draining node takes nothing new (§6.4); nodes read folder paths when they start (§3.1).
 */
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync, appendFileSync, existsSync, utimesSync } from "node:fs";
import path from "node:path";
import { hasPerTaskLogDirectories } from "./versions.js";
import { xorshift } from "./prng.js";
import type { ClusterState, SchemaVariant, SimFolders, SimNode, SimPackage, SimSchemaVersion, SimTask } from "./model.js";

export const DEFAULT_VERSION = "2024.1.12345";
/** How long a started node answers 503 before it serves requests (cluster clock): never instantly ready. */
export const DEFAULT_STARTUP_MS = 2_000;
/** Fake clocks start here so runs are reproducible. */
export const EPOCH = Date.parse("2026-01-05T09:00:00.000Z");
/** The InstallationId of the cluster's own database (GET /api). */
export const INSTALLATION_ID = "6b3f1a52-7c1e-4d2b-9a55-0c2d5e8f9a10";
/** The handle of the database a cluster starts on (databases.ts names the others). */
export const PRIMARY_DATABASE = "Octopus";

export interface ClusterOptions {
  /** Where node-local disks and the share live: <dataDir>/nodes/<NAME>/C and <dataDir>/shared. */
  dataDir: string;
  /** Node count (names OCTO1…OCTOn) or explicit names. */
  nodes: number | string[];
  version?: string;
  schema?: SchemaVariant;
  /** How long a task runs once picked up (simulated ms). */
  taskDurationMs?: number;
  /** Cluster folders at start; default the classic misconfiguration C:\Octopus\{TaskLogs,Artifacts,Packages}. */
  folders?: SimFolders;
  /** UNC prefix that maps to <dataDir>/shared on every node. */
  sharePrefix?: string;
  maxConcurrentTasks?: number;
  /** Seed for the random parts of file names. */
  seed?: number;
  /** Start time of the fake clock (ms since epoch). */
  startTime?: number;
  /** How long a node answers 503 after its service starts (cluster clock; default DEFAULT_STARTUP_MS). */
  startupMs?: number;
}

export class MaintenanceModeError extends Error {
  readonly status = 403;
  constructor() {
    super(
      "The Octopus Server is currently in maintenance mode. Only users with the AdministerSystem permission can make changes or queue tasks until an administrator turns maintenance mode off.",
    );
  }
}

export class NotFoundError extends Error {
  readonly status = 404;
}

/** Raw log reading failed: the file is not where the answering node looks for it. */
export class TaskLogMissingError extends Error {
  readonly status = 500;
  constructor(
    readonly taskId: string,
    readonly nodeName: string,
    readonly octopusPath: string,
  ) {
    super(
      `Could not find the task log file for ${taskId} at '${octopusPath}' on node ${nodeName}. The log was written by another node to a folder this node cannot see: point every node's TaskLogs at shared storage.`,
    );
  }
}

export interface QueueTaskInput {
  name?: string;
  description?: string;
  spaceId?: string;
  isSystem?: boolean;
  /** Who queues it: "administrator" (AdministerSystem) bypasses maintenance mode, "user" does not. */
  requestedBy?: "administrator" | "user";
  /** Override the run time of this task (simulated ms). */
  durationMs?: number;
}

export interface SeedOptions {
  tasksPerNode: number;
  /** Artifacts per task (files under Artifacts/Spaces-1/ServerTasks-<n>/). */
  artifactsPerTask?: number;
  /** Built-in packages per node, each with a NuGetPackage row. */
  packagesPerNode?: number;
  /** Bytes of log text per task (approximate). */
  logBytes?: number;
  /** Scheduled-job logs (same name on every node, different bytes). */
  scheduledJobLogs?: boolean;
}

export interface SeedResult {
  tasks: SimTask[];
  files: string[];
}

interface Runtime {
  /** When the task will finish (fake-clock ms). */
  endsAt: number;
}

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

export class Cluster {
  private readonly s: ClusterState;
  private rev = 0;
  private nowMs: number;
  private readonly random: () => number;
  private nextTaskNumber = 1;
  private nextPackageNumber = 1;
  private readonly runtime = new Map<string, Runtime>();
  private readonly durationMs: number;
  private readonly startupMs: number;
  /** Nodes whose executing tasks never finish (the "drain that never finishes" knob). */
  private readonly stuckNodes = new Set<string>();
  private readonly listeners = new Set<() => void>();
  /** The databases the nodes are not live on: their content as it was when last live (or restored). */
  private readonly parked = new Map<string, ClusterState>();
  private live = PRIMARY_DATABASE;
  /** The highest upgrade script the running binaries need (the version's schema). */
  private schemaNeeded: number;
  readonly dataDir: string;
  private readonly options: ClusterOptions;

  constructor(options: ClusterOptions) {
    this.options = options;
    this.dataDir = path.resolve(options.dataDir);
    this.nowMs = options.startTime ?? EPOCH;
    this.random = xorshift(options.seed ?? 42);
    this.durationMs = options.taskDurationMs ?? 30_000;
    this.startupMs = options.startupMs ?? DEFAULT_STARTUP_MS;
    const version = options.version ?? DEFAULT_VERSION;
    const schema = options.schema ?? "2018+";
    const folders: SimFolders = options.folders ?? {
      taskLogs: "C:\\Octopus\\TaskLogs",
      artifacts: "C:\\Octopus\\Artifacts",
      packages: "C:\\Octopus\\Packages",
    };
    const names = typeof options.nodes === "number" ? Array.from({ length: options.nodes }, (_, i) => `OCTO${i + 1}`) : options.nodes;
    if (names.length === 0) throw new Error("a cluster needs at least one node");
    const share = options.sharePrefix ?? "\\\\fs01\\OctopusShared";
    this.s = {
      version,
      schema,
      isInMaintenanceMode: false,
      folders: { ...folders },
      nodes: names.map((name) => ({
        id: schema === "3.x" ? name : `OctopusServerNodes-${name}`,
        name,
        maxConcurrentTasks: options.maxConcurrentTasks ?? 5,
        isDraining: false,
        lastSeen: new Date(this.nowMs).toISOString(),
        running: true,
        effectiveFolders: { ...folders },
        pathMap: [
          { prefix: "C:\\", local: path.join(this.dataDir, "nodes", name, "C") },
          { prefix: share, local: path.join(this.dataDir, "shared") },
        ],
      })),
      tasks: [],
      packages: [],
      schemaVersions: upgradeScripts(version, new Date(this.nowMs).toISOString()),
      installation: { installationId: INSTALLATION_ID, installedAt: new Date(this.nowMs).toISOString() },
    };
    this.schemaNeeded = maxSchemaVersion(this.s);
  }

  // ---- reading -------------------------------------------------------------------------------

  /** A copy of the whole state (JSON-safe). */
  state(): ClusterState {
    return structuredClone(this.s);
  }

  /** Bumped on every change; the SQL engine caches on it. */
  revision(): number {
    return this.rev;
  }

  now(): number {
    return this.nowMs;
  }

  get version(): string {
    return this.s.version;
  }

  get installationId(): string {
    return this.s.installation?.installationId ?? INSTALLATION_ID;
  }

  /**
   * The database whose content this cluster state is: the one the running nodes use. The API, the
   * scheduler and the heartbeats of nodes on it work on this state; other databases are parked.
   */
  get liveDatabase(): string {
    return this.live;
  }

  /** Every database the stand-in holds, the live one first. */
  databases(): string[] {
    return [this.live, ...this.parked.keys()];
  }

  /** A database's content: the live state, or a parked database as it is now. */
  databaseState(name: string): ClusterState {
    if (sameName(name, this.live)) return this.state();
    return structuredClone(this.requireParked(name));
  }

  /** A database restored next to the live one (the DBA's restore): parked until a node starts on it. */
  addDatabase(name: string, content: ClusterState): void {
    if (this.databases().some((d) => sameName(d, name))) throw new RangeError(`There is already a database '${name}' in the stand-in.`);
    this.parked.set(name, structuredClone(content));
    this.changed();
  }

  get isInMaintenanceMode(): boolean {
    return this.s.isInMaintenanceMode;
  }

  nodes(): SimNode[] {
    return this.s.nodes.map((n) => structuredClone(n));
  }

  /** Find a node by name or id (case-insensitive on the name, as Windows machine names are). */
  node(nameOrId: string): SimNode {
    const found = this.findNode(nameOrId);
    if (!found) throw new NotFoundError(`There is no Octopus Server node '${nameOrId}'.`);
    return structuredClone(found);
  }

  tasks(): SimTask[] {
    return this.s.tasks.map((t) => ({ ...t }));
  }

  task(id: string): SimTask {
    const t = this.s.tasks.find((x) => x.id.toLowerCase() === id.toLowerCase());
    if (!t) throw new NotFoundError(`The resource '${id}' was not found.`);
    return { ...t };
  }

  /** Running and past its start-up: serves API requests (a starting node answers 503). */
  isReady(nameOrId: string): boolean {
    const node = this.requireNode(nameOrId);
    return node.running && (node.startingUntil === undefined || this.nowMs >= Date.parse(node.startingUntil));
  }

  runningTaskCount(nodeName: string): number {
    return this.s.tasks.filter((t) => t.serverNode === nodeName && (t.state === "Executing" || t.state === "Cancelling")).length;
  }

  /** Where an Octopus path lands on the simulated disk of a node, or null when no mapping covers it. */
  resolvePath(nodeName: string, octopusPath: string): string | null {
    const node = this.requireNode(nodeName);
    return resolveThroughMap(node.pathMap, octopusPath);
  }

  /** The task log as GET /api/tasks/{id}/raw answers it through one node: read via that node's effective TaskLogs. */
  readRawLog(taskId: string, viaNodeName: string): string {
    const task = this.task(taskId);
    const node = this.requireNode(viaNodeName);
    const octoPath = path.win32.join(node.effectiveFolders.taskLogs, task.logFileName);
    const local = resolveThroughMap(node.pathMap, octoPath);
    if (local === null || !existsSync(local)) throw new TaskLogMissingError(task.id, node.name, octoPath);
    const st = statSync(local);
    if (!st.isDirectory()) return readFileSync(local, "utf8");
    // 2025.2.10530+: a directory of parts stitched together at read time, in write order.
    const parts = readdirSync(local).filter((f) => f.endsWith(".tl.txt"));
    parts.sort((a, b) => statSync(path.join(local, a)).mtimeMs - statSync(path.join(local, b)).mtimeMs || a.localeCompare(b));
    return parts.map((p) => readFileSync(path.join(local, p), "utf8")).join("");
  }

  // ---- changing ------------------------------------------------------------------------------

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  setMaintenanceMode(on: boolean): void {
    if (this.s.isInMaintenanceMode === on) return;
    this.s.isInMaintenanceMode = on;
    this.changed();
  }

  updateNode(nameOrId: string, change: { isDraining?: boolean; maxConcurrentTasks?: number }): SimNode {
    const node = this.requireNode(nameOrId);
    if (change.maxConcurrentTasks !== undefined) {
      if (!Number.isInteger(change.maxConcurrentTasks) || change.maxConcurrentTasks < 0)
        throw new RangeError("MaxConcurrentTasks must be a whole number of 0 or more.");
      node.maxConcurrentTasks = change.maxConcurrentTasks;
    }
    if (change.isDraining !== undefined) node.isDraining = change.isDraining;
    this.changed();
    return structuredClone(node);
  }

  /** An in-place upgrade of Octopus (same database, new version): what the API and the nodes report from now on. */
  upgrade(version: string): void {
    this.s.version = version;
    const scripts = (this.s.schemaVersions ??= []);
    const id = Math.max(0, ...scripts.map((v) => v.id)) + 1;
    scripts.push({
      id,
      scriptName: `Octopus.Core.UpgradeScripts.Script${String(id).padStart(4, "0")} - Upgrade to ${version}.sql`,
      applied: this.iso(),
    });
    this.schemaNeeded = id;
    this.changed();
  }

  /** The highest SchemaVersions Id the running version needs: a database below it is an older schema. */
  requiredSchemaVersion(): number {
    return this.schemaNeeded;
  }

  /**
   * A node that joined the cluster (registered in the database, listed by the API); it runs, with the cluster's folders.
   * `starting`: it answers 503 for the start-up time first, as a freshly started service does; `shareReachable: false`:
   * its machine cannot reach the file share, so the share's paths resolve nowhere on it.
   */
  joinNode(name: string, o: { starting?: boolean; shareReachable?: boolean } = {}): SimNode {
    if (this.s.nodes.some((n) => n.name.toLowerCase() === name.toLowerCase())) throw new Error(`node ${name} already exists`);
    const like = this.s.nodes[0]!;
    const node: SimNode = {
      ...structuredClone(like),
      id: like.id === like.name ? name : `OctopusServerNodes-${name}`,
      name,
      isDraining: false,
      running: true,
      lastSeen: new Date(this.nowMs).toISOString(),
      effectiveFolders: { ...this.s.folders },
      pathMap: this.machinePathMap(name).slice(0, o.shareReachable === false ? 1 : undefined),
    };
    delete node.startingUntil;
    if (o.starting) node.startingUntil = new Date(this.nowMs + this.startupMs).toISOString();
    this.s.nodes.push(node);
    this.changed();
    return structuredClone(node);
  }

  /** How a machine's OS resolves Octopus paths: a node's own map; another machine has its own C:\ and the cluster's share. */
  machinePathMap(host: string): SimNode["pathMap"] {
    const node = this.findNode(host);
    if (node) return structuredClone(node.pathMap);
    return [{ prefix: "C:\\", local: path.join(this.dataDir, "nodes", host, "C") }, ...structuredClone(this.s.nodes[0]!.pathMap.slice(1))];
  }

  /** Stop the node's service: it takes no tasks; its running tasks are left as they are until it starts again. */
  stopNode(nameOrId: string): void {
    const node = this.requireNode(nameOrId);
    if (!node.running) return;
    node.running = false;
    this.changed();
  }

  /**
   * Start the node's service on `database` (the one its connection string names; default the one it last
   * used): it registers in that database's OctopusServerNode, re-reads the folder paths from it and, like
   * Octopus after a restart, cancels the tasks it was executing when it went down (§1.4). A node starting
   * on a parked database while no running node uses the live one makes that database live (the move of a
   * stopped cluster); with nodes still running on the live one it runs on the parked one alone (a split).
   */
  startNode(nameOrId: string, database?: string): void {
    const node = this.requireNode(nameOrId);
    if (node.running) return;
    const target = database ?? node.database ?? this.live;
    if (!sameName(target, this.live)) this.requireParked(target);
    node.database = this.databases().find((d) => sameName(d, target))!;
    if (!sameName(node.database, this.live) && !this.s.nodes.some((n) => n.running && this.onLive(n))) this.goLive(node.database);
    node.running = true;
    node.startingUntil = new Date(this.nowMs + this.startupMs).toISOString();
    if (!this.onLive(node)) {
      const parked = this.requireParked(node.database);
      node.effectiveFolders = { ...parked.folders };
      this.heartbeat(node);
      this.changed();
      return;
    }
    node.effectiveFolders = { ...this.s.folders };
    node.lastSeen = this.iso();
    for (const t of this.s.tasks) {
      if (t.serverNode === node.name && (t.state === "Executing" || t.state === "Cancelling")) {
        this.finish(t, "Canceled", "The server process that was executing the task was terminated unexpectedly.");
      }
    }
    this.changed();
  }

  /**
   * Run `fn` against the database a node's process uses: this cluster, or, for a node on a parked database
   * (a split cluster), a cluster over that database's content with the machines as they are. What `fn`
   * changes there (drain, task cap, maintenance mode, queued tasks) is written back to that database.
   */
  withDatabaseOf<T>(nodeName: string, fn: (view: Cluster) => T): T {
    const node = this.requireNode(nodeName);
    if (this.onLive(node)) return fn(this);
    const name = this.databases().find((d) => sameName(d, node.database!))!;
    const parked = this.requireParked(name);
    const machines = new Map(this.s.nodes.map((n) => [n.name.toLowerCase(), n]));
    const nodes = parked.nodes.map((row) => {
      const m = machines.get(row.name.toLowerCase());
      if (!m) return { ...row, running: false };
      const { running, startingUntil, effectiveFolders, pathMap } = m;
      return { ...row, running, startingUntil, effectiveFolders, pathMap, database: m.database ?? this.live };
    });
    const view = Cluster.fromSnapshot(this.options, { ...structuredClone(parked), nodes: structuredClone(nodes) });
    view.nowMs = this.nowMs;
    view.live = name;
    const before = view.rev;
    try {
      return fn(view);
    } finally {
      if (view.rev !== before) {
        this.parked.set(name, view.state());
        this.changed();
      }
    }
  }

  /** Whether the node's process uses the live database. */
  onLive(node: SimNode): boolean {
    return node.database === undefined || sameName(node.database, this.live);
  }

  /** Park the live content and load `name`'s: node rows, tasks, packages, folders, maintenance mode come from it. */
  private goLive(name: string): void {
    const next = this.requireParked(name);
    this.parked.delete(name);
    this.parked.set(this.live, this.state());
    this.live = name;
    const machineNodes = this.s.nodes;
    const { nodes: rows, version: _version, ...content } = structuredClone(next);
    Object.assign(this.s, content);
    // Machines stay; what a node row holds comes from the new database (a node it lacks registers when it starts).
    for (const n of machineNodes) {
      const row = rows.find((r) => sameName(r.name, n.name));
      if (row)
        Object.assign(n, { id: row.id, maxConcurrentTasks: row.maxConcurrentTasks, isDraining: row.isDraining, lastSeen: row.lastSeen });
    }
    this.nextTaskNumber = Math.max(0, ...this.s.tasks.map((t) => Number(/-(\d+)$/.exec(t.id)?.[1] ?? 0))) + 1;
    this.nextPackageNumber = this.s.packages.length + 1;
  }

  /** A running node's heartbeat: LastSeen of its row in the database its process uses (registering it there if new). */
  private heartbeat(node: SimNode): void {
    if (this.onLive(node)) {
      node.lastSeen = this.iso();
      return;
    }
    const parked = this.requireParked(node.database!);
    let row = parked.nodes.find((r) => sameName(r.name, node.name));
    if (!row) {
      row = { ...structuredClone(node), isDraining: false, running: true };
      parked.nodes.push(row);
    }
    row.lastSeen = this.iso();
  }

  private requireParked(name: string): ClusterState {
    const key = [...this.parked.keys()].find((d) => sameName(d, name));
    if (key === undefined)
      throw new NotFoundError(`There is no database '${name}' in the stand-in (it holds ${this.databases().join(", ")}).`);
    return this.parked.get(key)!;
  }

  /** `path`: the folders in the DB, cluster-wide. Running nodes keep what they read at start. */
  setFolders(change: Partial<SimFolders>): SimFolders {
    return this.setFoldersIn(this.live, change);
  }

  /**
   * `path` run by an instance whose config names `database`: the folders are written there, live or parked
   * (after `database --connectionString` points an instance at a restore, its `path` writes into the restore).
   */
  setFoldersIn(database: string, change: Partial<SimFolders>): SimFolders {
    const folders = sameName(database, this.live) ? this.s.folders : this.requireParked(database).folders;
    for (const [k, v] of Object.entries(change) as [keyof SimFolders, string | undefined][]) {
      if (v !== undefined) folders[k] = v;
    }
    this.changed();
    return { ...folders };
  }

  /** A node whose executing tasks never complete: its drain never finishes. */
  setStuck(nodeName: string, stuck: boolean): void {
    const node = this.requireNode(nodeName);
    if (stuck) this.stuckNodes.add(node.name);
    else this.stuckNodes.delete(node.name);
  }

  queueTask(input: QueueTaskInput = {}): SimTask {
    const isSystem = input.isSystem ?? false;
    if (this.s.isInMaintenanceMode && !isSystem && (input.requestedBy ?? "user") === "user") throw new MaintenanceModeError();
    const n = this.nextTaskNumber++;
    const task: SimTask = {
      id: `ServerTasks-${n}`,
      name: input.name ?? (isSystem ? "Retention" : "Deploy"),
      description: input.description ?? (isSystem ? "Apply retention policies" : `Deploy release 1.0.${n}`),
      state: "Queued",
      serverNode: null,
      queueTime: this.iso(),
      startTime: null,
      completedTime: null,
      spaceId: input.spaceId ?? "Spaces-1",
      isSystem,
      logFileName: this.logFileNameFor(n),
    };
    this.s.tasks.push(task);
    this.durations.set(task.id, input.durationMs ?? this.durationMs);
    this.changed();
    return { ...task };
  }

  private readonly durations = new Map<string, number>();

  cancelTask(id: string): SimTask {
    const t = this.s.tasks.find((x) => x.id.toLowerCase() === id.toLowerCase());
    if (!t) throw new NotFoundError(`The resource '${id}' was not found.`);
    if (t.state === "Queued") this.finish(t, "Canceled", "Canceled by an administrator.");
    else if (t.state === "Executing") {
      // Octopus moves an executing task to Cancelling; the node finishes it on its next tick.
      t.state = "Cancelling";
      this.runtime.set(t.id, { endsAt: this.nowMs });
      this.changed();
    }
    return { ...t };
  }

  /** Finish a task now, whatever its planned run time (tests). */
  completeTask(id: string, state: "Success" | "Failed" | "Canceled" | "TimedOut" = "Success"): SimTask {
    const t = this.s.tasks.find((x) => x.id.toLowerCase() === id.toLowerCase());
    if (!t) throw new NotFoundError(`The resource '${id}' was not found.`);
    if (t.state === "Queued") {
      // A task that never ran still gets a log on the node that would have run it: keep it simple and refuse.
      throw new RangeError(`${t.id} has not been picked up by a node yet; advance the clock first.`);
    }
    if (t.state === "Executing" || t.state === "Cancelling") this.finish(t, state);
    return { ...t };
  }

  /** Move the fake clock: finish tasks whose time has come and pick up queued ones, in time order. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError("advance needs a non-negative number of milliseconds");
    const target = this.nowMs + ms;
    for (let guard = 0; guard < 1_000_000; guard++) {
      const next = this.nextCompletion();
      if (next === undefined || next.endsAt > target) break;
      this.nowMs = Math.max(this.nowMs, next.endsAt);
      this.finish(next.task, next.task.state === "Cancelling" ? "Canceled" : "Success");
      this.schedule();
    }
    this.nowMs = target;
    if (ms > 0) {
      // Heartbeats: a revision bump without listeners, nothing else changed.
      for (const node of this.s.nodes) if (node.running) this.heartbeat(node);
      this.rev++;
    }
    this.schedule();
  }

  /** Drive the fake clock from real time (the running stand-in). Returns a stop function. */
  startRealTimeDriver(intervalMs = 200): () => void {
    let last = Date.now();
    const timer = setInterval(() => {
      const now = Date.now();
      this.advance(now - last);
      last = now;
    }, intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  /**
   * Completed history on every node's local folders: task logs (in the version's layout), artifacts and
   * built-in packages with NuGetPackage rows. Each node's tasks land where that node writes: with the
   * default C:\Octopus folders, on its own disk.
   */
  seedHistory(options: SeedOptions): SeedResult {
    const files: string[] = [];
    const created: SimTask[] = [];
    const logBytes = options.logBytes ?? 600;
    for (const node of this.s.nodes) {
      for (let i = 0; i < options.tasksPerNode; i++) {
        const n = this.nextTaskNumber++;
        const start = this.nowMs - (options.tasksPerNode - i) * 3_600_000;
        const task: SimTask = {
          id: `ServerTasks-${n}`,
          name: "Deploy",
          description: `Deploy Acme.Web release 1.4.${n} to Production`,
          state: i % 7 === 6 ? "Failed" : "Success",
          serverNode: node.name,
          queueTime: new Date(start - 1000).toISOString(),
          startTime: new Date(start).toISOString(),
          completedTime: new Date(start + 45_000).toISOString(),
          spaceId: "Spaces-1",
          isSystem: false,
          logFileName: this.logFileNameFor(n),
        };
        this.s.tasks.push(task);
        created.push({ ...task });
        files.push(...this.writeLog(node, task, logText(task, node.name, logBytes)));
        for (let a = 0; a < (options.artifactsPerTask ?? 0); a++) {
          const octo = path.win32.join(node.effectiveFolders.artifacts, "Spaces-1", task.id, `artifact-${a + 1}.txt`);
          files.push(this.writeFile(node, octo, `artifact ${a + 1} of ${task.id} from ${node.name}\n`));
        }
      }
      for (let p = 0; p < (options.packagesPerNode ?? 0); p++) {
        const number = this.nextPackageNumber++;
        const pkg: SimPackage = {
          id: `packages-Acme.Lib${number}.1.0.${number}`,
          packageId: `Acme.Lib${number}`,
          version: `1.0.${number}`,
          spaceId: "Spaces-1",
        };
        const octo = path.win32.join(
          node.effectiveFolders.packages,
          "Spaces-1",
          "feeds-builtin",
          pkg.packageId,
          `${pkg.packageId}.${pkg.version}.zip`,
        );
        files.push(this.writeFile(node, octo, `PK fake zip of ${pkg.packageId} ${pkg.version}\n`));
        this.s.packages.push(pkg);
      }
      if (options.scheduledJobLogs) {
        const octo = path.win32.join(node.effectiveFolders.taskLogs, "scheduledtasks_processsubscriptions.txt");
        files.push(this.writeFile(node, octo, `${this.iso()} Info | processed subscriptions on ${node.name}\n`));
      }
    }
    this.changed();
    return { tasks: created, files };
  }

  /** A NuGetPackage row with no file written anywhere: a package the database indexes but no node has (tests). */
  indexPackage(input: { packageId: string; version: string; spaceId?: string }): SimPackage {
    const pkg: SimPackage = {
      id: `packages-${input.packageId}.${input.version}`,
      packageId: input.packageId,
      version: input.version,
      spaceId: input.spaceId ?? "Spaces-1",
    };
    this.s.packages.push(pkg);
    this.changed();
    return { ...pkg };
  }

  /** Write a file through a node's path mapping (tests arrange odd states with it). */
  writeFile(node: SimNode | string, octopusPath: string, content: string): string {
    const n = typeof node === "string" ? this.requireNode(node) : node;
    const local = resolveThroughMap(n.pathMap, octopusPath);
    if (local === null) throw new Error(`node ${n.name} has no disk for '${octopusPath}' (no pathMap prefix matches)`);
    mkdirSync(path.dirname(local), { recursive: true });
    writeFileSync(local, content);
    return local;
  }

  /** Replace the whole state (snapshot restore). */
  static fromSnapshot(options: ClusterOptions, snapshot: ClusterState): Cluster {
    const c = new Cluster(options);
    Object.assign(c.s, structuredClone(snapshot));
    const max = Math.max(0, ...snapshot.tasks.map((t) => Number(/-(\d+)$/.exec(t.id)?.[1] ?? 0)));
    c.nextTaskNumber = max + 1;
    c.nextPackageNumber = snapshot.packages.length + 1;
    c.schemaNeeded = maxSchemaVersion(c.s);
    return c;
  }

  // ---- internals ----------------------------------------------------------------------------

  private changed(): void {
    this.rev++;
    for (const l of this.listeners) l();
  }

  private iso(): string {
    return new Date(this.nowMs).toISOString();
  }

  private rand10(): string {
    let out = "";
    for (let i = 0; i < 10; i++) out += ALNUM[Math.floor(this.random() * ALNUM.length)];
    return out;
  }

  private logFileNameFor(n: number): string {
    // Lowercase prefix, random uppercase suffix (§4.2); a directory from 2025.2.10530 on.
    const base = `servertasks-${n}_${this.rand10()}`;
    return hasPerTaskLogDirectories(this.s.version) ? base : `${base}.txt`;
  }

  private findNode(nameOrId: string): SimNode | undefined {
    const key = nameOrId.toLowerCase();
    return this.s.nodes.find((n) => n.id.toLowerCase() === key || n.name.toLowerCase() === key);
  }

  private requireNode(nameOrId: string): SimNode {
    const node = this.findNode(nameOrId);
    if (!node) throw new NotFoundError(`There is no Octopus Server node '${nameOrId}'.`);
    return node;
  }

  private nextCompletion(): { task: SimTask; endsAt: number } | undefined {
    let best: { task: SimTask; endsAt: number } | undefined;
    for (const t of this.s.tasks) {
      if (t.state !== "Executing" && t.state !== "Cancelling") continue;
      if (t.serverNode && this.stuckNodes.has(t.serverNode) && t.state === "Executing") continue;
      const node = t.serverNode ? this.findNode(t.serverNode) : undefined;
      if (!node?.running) continue;
      const endsAt = this.runtime.get(t.id)?.endsAt;
      if (endsAt === undefined) continue;
      if (!best || endsAt < best.endsAt) best = { task: t, endsAt };
    }
    return best;
  }

  /** FIFO pick-up: each queued task, oldest first, goes to the least-loaded eligible node. */
  private schedule(): void {
    let changed = false;
    for (const task of this.s.tasks) {
      if (task.state !== "Queued") continue;
      const candidates = this.s.nodes.filter(
        (n) => this.isReady(n.name) && this.onLive(n) && !n.isDraining && this.runningTaskCount(n.name) < n.maxConcurrentTasks,
      );
      if (candidates.length === 0) break;
      candidates.sort(
        (a, b) => this.runningTaskCount(a.name) / a.maxConcurrentTasks - this.runningTaskCount(b.name) / b.maxConcurrentTasks,
      );
      const node = candidates[0]!;
      task.state = "Executing";
      task.serverNode = node.name;
      task.startTime = this.iso();
      this.runtime.set(task.id, { endsAt: this.nowMs + (this.durations.get(task.id) ?? this.durationMs) });
      this.writeLog(node, task, `${this.iso()}  Info     | ${task.id}: ${task.description} started on ${node.name}\n`);
      changed = true;
    }
    if (changed) this.changed();
  }

  private finish(task: SimTask, state: SimTask["state"], errorMessage?: string): void {
    task.state = state;
    task.completedTime = this.iso();
    this.runtime.delete(task.id);
    const node = task.serverNode ? this.findNode(task.serverNode) : undefined;
    if (node) {
      const line = `${this.iso()}  Info     | ${task.id} finished: ${state}${errorMessage ? ` (${errorMessage})` : ""}\n`;
      try {
        this.writeLog(node, task, line);
      } catch {
        // A node whose folders map nowhere keeps running; Octopus would log to its own log file.
      }
    }
    this.changed();
  }

  /** Append to a task's log on the node's effective TaskLogs; per-task directories get one new part per write. */
  private writeLog(node: SimNode, task: SimTask, text: string): string[] {
    const octoPath = path.win32.join(node.effectiveFolders.taskLogs, task.logFileName);
    const local = resolveThroughMap(node.pathMap, octoPath);
    if (local === null) throw new Error(`node ${node.name} has no disk for '${octoPath}'`);
    if (hasPerTaskLogDirectories(this.s.version)) {
      mkdirSync(local, { recursive: true });
      const part = path.join(local, `${this.rand10()}.tl.txt`);
      writeFileSync(part, text);
      // Parts are read back in mtime order; the kernel's file clock is coarse (a few ms), so two writes
      // in a row can share a stamp. Keep each new part strictly after the newest one already there.
      const newest = Math.max(
        0,
        ...readdirSync(local)
          .filter((f) => f.endsWith(".tl.txt") && path.join(local, f) !== part)
          .map((f) => statSync(path.join(local, f)).mtimeMs),
      );
      if (statSync(part).mtimeMs <= newest) {
        const at = new Date(Math.floor(newest) + 1);
        utimesSync(part, at, at);
      }
      return [part];
    }
    mkdirSync(path.dirname(local), { recursive: true });
    appendFileSync(local, text);
    return [local];
  }
}

/** The highest SchemaVersions Id of a database (a state without the rows has its one derived row). */
export function maxSchemaVersion(state: ClusterState): number {
  return state.schemaVersions ? Math.max(0, ...state.schemaVersions.map((v) => v.id)) : 1;
}

/** Database handles compare case-insensitively, as SQL Server catalog names do. */
function sameName(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/**
 * SchemaVersions of a database at `version`: the upgrade scripts DbUp applied, one row each, the last
 * for the version's own upgrade. Script names follow Octopus's numbered pattern; the numbers are the
 * stand-in's own (the real list is not public).
 */
export function upgradeScripts(version: string, applied: string): SimSchemaVersion[] {
  return [
    { id: 1, scriptName: "Octopus.Core.UpgradeScripts.Script0001 - Initial.sql", applied },
    { id: 2, scriptName: "Octopus.Core.UpgradeScripts.Script0002 - Server tasks.sql", applied },
    { id: 3, scriptName: `Octopus.Core.UpgradeScripts.Script0003 - Upgrade to ${version}.sql`, applied },
  ];
}

/** Longest matching prefix wins; matching is case-insensitive as on Windows. */
export function resolveThroughMap(pathMap: SimNode["pathMap"], octopusPath: string): string | null {
  const normal = octopusPath.replace(/\//g, "\\");
  let best: { prefix: string; local: string } | undefined;
  for (const m of pathMap) {
    const prefix = m.prefix.replace(/\//g, "\\");
    const p = prefix.endsWith("\\") ? prefix : `${prefix}\\`;
    const hit = normal.toLowerCase() === prefix.toLowerCase().replace(/\\$/, "") || normal.toLowerCase().startsWith(p.toLowerCase());
    if (hit && (!best || prefix.length > best.prefix.length)) best = m;
  }
  if (!best) return null;
  const rest = normal.slice(best.prefix.replace(/\\$/, "").length).split("\\").filter(Boolean);
  return path.join(best.local, ...rest);
}

function logText(task: SimTask, nodeName: string, bytes: number): string {
  const lines = [`${task.startTime}  Info     | ${task.description} started on ${nodeName}`];
  for (let i = 0; lines.join("\n").length < bytes; i++)
    lines.push(`${task.startTime}  Verbose  | Step ${i + 1}: deploying package Acme.Web to web-${(i % 4) + 1}`);
  lines.push(`${task.completedTime}  Info     | ${task.id} finished: ${task.state}`);
  return `${lines.join("\n")}\n`;
}
