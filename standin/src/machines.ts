/**
 * Every simulated node is a machine (host name = node name) with its own installed Octopus Server
 * instances and their Windows services. The first instance of a machine is the cluster node; any
 * other is a separate installation whose service exists but belongs to no simulated cluster.
 *
 * Service control follows the Windows Service Control Manager: a stop or start request returns at
 * STOP_PENDING / START_PENDING and the service reaches STOPPED / RUNNING a little later (wall time,
 * `pendingMs`), so a caller that does not poll sees the node still up. A machine can be unreachable
 * (RPC unavailable, Win32 1722) or deny access (Win32 5) to test how callers report it.
 */
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { resolveThroughMap, type Cluster } from "./cluster.js";

export interface InstallResult {
  node: string;
  /** The node registered itself now (false: it was in the database already, and only started). */
  joined: boolean;
}

export type ServiceState = "RUNNING" | "STOPPED" | "STOP_PENDING" | "START_PENDING";

/** The default instance name of a real install [V, research §2]. */
export const DEFAULT_INSTANCE = "OctopusServer";
/** How long a stop or start stays pending by default. */
export const DEFAULT_PENDING_MS = 300;

export interface InstalledService {
  /** The service's key name, as `sc.exe` takes it. */
  service: string;
  instance: string;
  state: ServiceState;
  /** The cluster node this instance runs, when it is the simulated node of this machine. */
  node?: string;
  /**
   * Set when the last start failed (the process exited while starting): 1067, "The process terminated
   * unexpectedly", as `sc query` shows it in WIN32_EXIT_CODE. Cleared by the next successful start.
   */
  win32ExitCode?: number;
}

/** What an instance's own config file holds about its database (Octopus.Storage.*). */
export interface InstanceConfig {
  /** Octopus.Storage.ExternalDatabaseConnectionString: what `database --connectionString` last saved. */
  connectionString?: string;
  /** Octopus.Storage.MasterKey (the real one is DPAPI-protected on the machine). */
  masterKey?: string;
}

/** How the machines reach the stand-in's databases (databases.ts); the stand-in supplies it. */
export interface DatabaseDirectory {
  /** What a node's process gets opening its connection string at start: the database, or the error it logs and stops on. */
  open(connectionString: string): { database: string } | { failure: string };
  /** The master key of the database a connection string reaches; undefined when the stand-in serves no such database. */
  masterKey(connectionString: string): string | undefined;
  /** A connection string fit for a log (no password). */
  describe(connectionString: string): string;
}

/** Where a node's process logs, on its own disk (the real server logs to <Home>\Logs\OctopusServer.txt). */
export const NODE_LOG = "C:\\Octopus\\Logs\\OctopusServer.txt";

export interface MachineFaults {
  /** The machine's service manager cannot be reached (host down, firewall): Win32 1722. */
  unreachable?: boolean;
  /** Octoha's account is not an administrator of the machine: Win32 5. */
  accessDenied?: boolean;
  /** This machine's services stay pending this long (e.g. a stop that takes minutes). */
  pendingMs?: number;
  /** The cluster's file share cannot be reached from this machine (Test-Path answers False; a joined node cannot read it). */
  shareUnreachable?: boolean;
}

export interface MachineView {
  host: string;
  instances: string[];
  faults: MachineFaults;
  /** The Octopus Server version installed on this machine (`Octopus.Server.exe version`). */
  octopusVersion: string;
  /** A machine with Octopus installed that is not (yet) a node of the cluster. */
  spare: boolean;
  /** What create-instance and configure wrote for each instance made on this machine (spare machines). */
  created: CreatedInstance[];
}

/** One instance's settings as create-instance / configure / service --install left them (the instance's config file). */
export interface CreatedInstance {
  instance: string;
  config: string;
  home: string;
  nodeName: string;
  webListenPrefixes?: string;
  commsListenPort?: number;
  webForceSSL?: boolean;
  /** service --install ran: the Windows service exists. */
  serviceInstalled?: boolean;
}

/** A machine with Octopus Server installed and no instance yet: a node waiting to join. */
export interface SpareMachine {
  host: string;
  /** Its installed Octopus Server version (default the cluster's). */
  version?: string;
}

export type MachineErrorCode =
  | "unknownHost"
  | "unreachable"
  | "accessDenied"
  | "serviceDoesNotExist"
  | "serviceNotActive"
  | "serviceAlreadyRunning"
  | "cannotAcceptControl"
  | "instanceExists"
  | "notConfigured"
  | "nodeNameTaken"
  /** Not the service manager's: `database --masterKey` with a key the database was not encrypted with. */
  | "masterKeyMismatch"
  /** Not the service manager's: the database an instance's config names cannot be opened (path, show-configuration). */
  | "databaseUnavailable";

/** Win32 error numbers the service manager answers with (research §1.4). */
const WIN32: Partial<Record<MachineErrorCode, number>> = {
  unreachable: 1722,
  accessDenied: 5,
  serviceDoesNotExist: 1060,
  serviceNotActive: 1062,
  serviceAlreadyRunning: 1056,
  cannotAcceptControl: 1061,
};

export class MachineError extends Error {
  readonly win32Error: number | undefined;
  constructor(
    readonly code: MachineErrorCode,
    message: string,
  ) {
    super(message);
    this.win32Error = WIN32[code];
  }
}

/**
 * The service name Octopus installs for an instance: `OctopusDeploy` for the default instance (exact,
 * case-sensitive comparison), `OctopusDeploy: <instance>` otherwise. INFERRED from the shared library
 * Octopus Server was built on (research §2); the current Server source is not public.
 */
export function serviceNameFor(instance: string): string {
  return instance === DEFAULT_INSTANCE ? "OctopusDeploy" : `OctopusDeploy: ${instance}`;
}

export interface MachinesOptions {
  /** Installed instances per machine (host name, case-insensitive); default [OctopusServer]. The first runs the node. */
  instances?: Record<string, string[]>;
  /** The machine octoha runs on (default the first node's). */
  localMachine?: string;
  pendingMs?: number;
  spares?: SpareMachine[];
  /** The databases the nodes' connection strings can reach; without it a node starts on the live database. */
  databases?: DatabaseDirectory;
  /** What every instance's config holds at first (the cluster's own database). */
  initialConfig?: InstanceConfig;
}

interface Pending {
  to: "STOPPED" | "RUNNING";
  timer: NodeJS.Timeout;
}

export class Machines {
  private readonly instances = new Map<string, string[]>();
  private readonly faults = new Map<string, MachineFaults>();
  /** State of the instances that are not cluster nodes, by "host\ninstance" (lower case). */
  private readonly otherState = new Map<string, "RUNNING" | "STOPPED">();
  private readonly pending = new Map<string, Pending>();
  private readonly pendingMs: number;
  /** Spare machines by lower-case host name, with their installed version. */
  private readonly spares = new Map<string, { host: string; version: string | undefined }>();
  /** Instances made by create-instance, by lower-case host name. */
  private readonly created = new Map<string, CreatedInstance[]>();
  /** Each instance's config file, by "host\ninstance" (lower case); absent: initialConfig. */
  private readonly configs = new Map<string, InstanceConfig>();
  private readonly startFailed = new Set<string>();
  private readonly databases: DatabaseDirectory | undefined;
  private readonly initialConfig: InstanceConfig;
  readonly localMachine: string;

  constructor(
    private readonly cluster: Cluster,
    options: MachinesOptions = {},
  ) {
    this.pendingMs = options.pendingMs ?? DEFAULT_PENDING_MS;
    for (const spare of options.spares ?? []) {
      if (this.nodeName(spare.host) || this.spares.has(spare.host.toLowerCase()))
        throw new RangeError(`spare machine '${spare.host}' repeats a node or another spare machine.`);
      this.spares.set(spare.host.toLowerCase(), { host: spare.host, version: spare.version });
    }
    this.databases = options.databases;
    this.initialConfig = { ...options.initialConfig };
    for (const [host, list] of Object.entries(options.instances ?? {})) {
      const node = this.nodeName(host);
      if (!node) throw new RangeError(`instances names '${host}', which is not a node of the simulated cluster.`);
      if (list.length === 0) throw new RangeError(`instances.${host} is empty: the machine of a node has at least its node's instance.`);
      const seen = new Set<string>();
      for (const name of list) {
        if (name.trim() === "" || seen.has(name.toLowerCase())) throw new RangeError(`instances.${host}: '${name}' is empty or repeated.`);
        seen.add(name.toLowerCase());
      }
      this.instances.set(node.toLowerCase(), [...list]);
    }
    const local = options.localMachine ?? cluster.nodes()[0]!.name;
    const localNode = this.nodeName(local);
    if (!localNode) throw new RangeError(`localMachine '${local}' is not a node of the simulated cluster.`);
    this.localMachine = localNode;
  }

  hosts(): string[] {
    const nodes = this.cluster.nodes().map((n) => n.name);
    const spares = [...this.spares.values()].map((s) => s.host).filter((h) => !nodes.some((n) => n.toLowerCase() === h.toLowerCase()));
    return [...nodes, ...spares];
  }

  /** A machine's installed instances and faults; unknown host names throw (code unknownHost). */
  machine(host: string): MachineView {
    const name = this.requireHost(host);
    const key = name.toLowerCase();
    return {
      host: name,
      instances: this.instancesOf(name),
      faults: { ...this.faults.get(key) },
      octopusVersion: this.spares.get(key)?.version ?? this.cluster.version,
      spare: !this.isNode(name),
      created: structuredClone(this.created.get(key) ?? []),
    };
  }

  /** create-instance on a machine: a new instance with its config file, home and node name. */
  createInstance(host: string, config: CreatedInstance): MachineView {
    const name = this.reachable(host);
    const list = this.created.get(name.toLowerCase()) ?? [];
    if (this.instancesOf(name).some((i) => i.toLowerCase() === config.instance.toLowerCase()))
      throw new MachineError("instanceExists", `An instance named ${config.instance} already exists on ${name}.`);
    list.push({ ...config });
    this.created.set(name.toLowerCase(), list);
    // The real create-instance writes the instance's config file at --config: Test-Path on the machine then finds it.
    const local = resolveThroughMap(this.cluster.machinePathMap(name), config.config);
    if (local !== null) {
      mkdirSync(path.dirname(local), { recursive: true });
      writeFileSync(
        local,
        `<?xml version="1.0" encoding="utf-8"?>\n<octopus-settings>\n  <set key="Octopus.Home">${config.home}</set>\n` +
          `  <set key="Octopus.Server.NodeName">${config.nodeName}</set>\n</octopus-settings>\n`,
      );
    }
    return this.machine(name);
  }

  /** configure / database on an instance made by create-instance: merge the settings into its config. */
  configureInstance(host: string, instance: string, change: Partial<CreatedInstance>): CreatedInstance {
    const name = this.reachable(host);
    const found = (this.created.get(name.toLowerCase()) ?? []).find((c) => c.instance.toLowerCase() === instance.toLowerCase());
    if (!found) throw new MachineError("serviceDoesNotExist", unknownInstanceMessage(instance, this.instancesOf(name)));
    Object.assign(found, change, { instance: found.instance });
    return structuredClone(found);
  }

  /**
   * service --install --start for an instance made on a spare machine: the Windows service is installed
   * and started, and the node registers itself in the cluster's database (OctopusServerNode) under its
   * node name. Its service must point at the cluster's database first, as Octopus's own start-up needs.
   */
  installAndStart(host: string, instance: string): InstallResult {
    const name = this.reachable(host);
    const config = this.configureInstance(name, instance, {});
    // What the `database` command saved in this instance's config: Octopus opens it at start.
    const db = this.config(name, instance);
    if (db.connectionString === undefined || db.masterKey === undefined)
      throw new MachineError(
        "notConfigured",
        `The instance ${config.instance} has no database configured: run database --instance ${config.instance} --connectionString=… --masterKey=… first.`,
      );
    const opened = this.databases?.open(db.connectionString);
    if (opened && "failure" in opened)
      throw new MachineError("notConfigured", `The instance ${config.instance} cannot open its database: ${opened.failure}`);
    this.configureInstance(name, instance, { serviceInstalled: true });
    const existing = this.cluster.nodes().find((n) => n.name.toLowerCase() === config.nodeName.toLowerCase());
    if (existing && existing.name.toLowerCase() !== name.toLowerCase())
      throw new MachineError(
        "nodeNameTaken",
        `A node named ${existing.name} already exists in the cluster database: choose another --serverNodeName.`,
      );
    if (!existing)
      this.cluster.joinNode(config.nodeName, { starting: true, shareReachable: !this.faults.get(name.toLowerCase())?.shareUnreachable });
    else this.cluster.startNode(existing.name);
    return { node: config.nodeName, joined: !existing };
  }

  /** Whether an Octopus path (UNC share or a local drive) exists as seen from this machine (PowerShell's Test-Path). */
  testPath(host: string, octopusPath: string): boolean {
    const name = this.reachable(host);
    const f = this.faults.get(name.toLowerCase());
    const map = this.cluster.machinePathMap(name);
    const share = map.slice(1);
    if (f?.shareUnreachable && resolveThroughMap(share, octopusPath) !== null) return false;
    const local = resolveThroughMap(map, octopusPath);
    return local !== null && existsSync(local);
  }

  setFaults(host: string, faults: MachineFaults): MachineView {
    const name = this.requireHost(host);
    const next = { ...this.faults.get(name.toLowerCase()), ...faults };
    if (next.pendingMs !== undefined && !(next.pendingMs >= 0)) throw new RangeError("pendingMs must be a non-negative number");
    this.faults.set(name.toLowerCase(), next);
    return this.machine(name);
  }

  /** Every installed instance's service on the machine, as the remote service manager reports it. */
  services(host: string): InstalledService[] {
    const name = this.reachable(host);
    return this.serviceInstances(name).map((instance, i) => this.serviceOf(name, instance, i === 0));
  }

  /** One service by its key name (case-insensitive, as the service manager matches it). */
  service(host: string, service: string): InstalledService {
    const { name, list, i } = this.find(host, service);
    return this.serviceOf(name, list[i]!, i === 0);
  }

  private find(host: string, service: string): { name: string; list: string[]; i: number } {
    const name = this.reachable(host);
    const list = this.serviceInstances(name);
    const i = list.findIndex((x) => serviceNameFor(x).toLowerCase() === service.toLowerCase());
    if (i < 0)
      throw new MachineError(
        "serviceDoesNotExist",
        `The specified service does not exist as an installed service. (${service} on ${name})`,
      );
    return { name, list, i };
  }

  /**
   * Ask the service manager to stop or start a service. Returns at once with the service STOP_PENDING or
   * START_PENDING; it is STOPPED or RUNNING after the machine's pendingMs. Errors follow the SCM's.
   */
  control(host: string, service: string, action: "stop" | "start"): InstalledService {
    const { name, list, i } = this.find(host, service);
    const now = this.serviceOf(name, list[i]!, i === 0);
    // 1061 for a stop while pending is seen on real machines; for a start while pending it is INFERRED.
    if (now.state === "STOP_PENDING" || now.state === "START_PENDING")
      throw new MachineError(
        "cannotAcceptControl",
        `The service cannot accept control messages at this time. (${now.service} is ${now.state})`,
      );
    if (action === "stop" && now.state === "STOPPED") throw new MachineError("serviceNotActive", "The service has not been started.");
    if (action === "start" && now.state === "RUNNING")
      throw new MachineError("serviceAlreadyRunning", "An instance of the service is already running.");
    const key = serviceKey(name, list[i]!);
    const to = action === "stop" ? "STOPPED" : "RUNNING";
    const ms = this.faults.get(name.toLowerCase())?.pendingMs ?? this.pendingMs;
    const timer = setTimeout(() => this.settle(name, list[i]!, i === 0, to), ms);
    timer.unref();
    this.pending.set(key, { to, timer });
    return this.serviceOf(name, list[i]!, i === 0);
  }

  /** An installed instance's config file (its database settings); unknown instances fail as serviceDoesNotExist would. */
  config(host: string, instance: string): InstanceConfig {
    const { name, list, i } = this.findInstance(host, instance);
    return { ...(this.configs.get(serviceKey(name, list[i]!)) ?? this.baseConfig(name, list[i]!)) };
  }

  /**
   * The database an instance's own commands (`path`, `show-configuration`) open: the one its config file
   * names, as the real tool connects with its instance's connection string, not the one the running nodes
   * use. An instance with no connection string (a stand-in without databases) uses the live one.
   */
  databaseOf(host: string, instance: string): string {
    const { connectionString } = this.config(host, instance);
    if (!this.databases || connectionString === undefined) return this.cluster.liveDatabase;
    const opened = this.databases.open(connectionString);
    if ("failure" in opened)
      throw new MachineError(
        "databaseUnavailable",
        `Instance ${instance} on ${host} could not open its database (${this.databases.describe(connectionString)}): ${opened.failure}`,
      );
    return opened.database;
  }

  /**
   * `database --connectionString [--masterKey]` run on the machine: saved in that instance's config file.
   * A running node keeps the database it opened until it restarts. A master key that is not the one
   * of the database the connection string reaches is refused (MachineError code masterKeyMismatch).
   */
  configureDatabase(host: string, instance: string, change: InstanceConfig): InstanceConfig {
    const { name, list, i } = this.findInstance(host, instance, true);
    const key = serviceKey(name, list[i]!);
    const next = { ...(this.configs.get(key) ?? this.baseConfig(name, list[i]!)) };
    if (change.connectionString !== undefined) next.connectionString = change.connectionString;
    if (change.masterKey !== undefined) {
      const expected = next.connectionString === undefined ? undefined : this.databases?.masterKey(next.connectionString);
      if (expected !== undefined && expected !== change.masterKey)
        throw new MachineError("masterKeyMismatch", "The master key given is not the one the database was encrypted with.");
      next.masterKey = change.masterKey;
    }
    this.configs.set(key, next);
    return { ...next };
  }

  private findInstance(host: string, instance: string, reachable = false): { name: string; list: string[]; i: number } {
    const name = reachable ? this.reachable(host) : this.requireHost(host);
    const list = this.instancesOf(name);
    const i = list.findIndex((x) => x.toLowerCase() === instance.toLowerCase());
    if (i < 0) throw new MachineError("serviceDoesNotExist", `Instance ${instance} is not installed on ${name}.`);
    return { name, list, i };
  }

  /** Stop the clocks of pending services (the stand-in is closing). */
  close(): void {
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
  }

  private settle(host: string, instance: string, isNode: boolean, to: "STOPPED" | "RUNNING"): void {
    const key = serviceKey(host, instance);
    this.pending.delete(key);
    if (!isNode) this.otherState.set(key, to);
    else if (to === "STOPPED") this.cluster.stopNode(host);
    else this.startNode(host, instance);
  }

  /**
   * A node's process starting: it opens the database its own config names; when it cannot, it logs why
   * on its own disk and exits, and the service is STOPPED again (as a real node that cannot reach its database).
   */
  private startNode(host: string, instance: string): void {
    const key = serviceKey(host, instance);
    const connectionString = (this.configs.get(key) ?? this.baseConfig(host, instance)).connectionString;
    if (!this.databases || connectionString === undefined) {
      this.startFailed.delete(key);
      this.cluster.startNode(host);
      return;
    }
    const opened = this.databases.open(connectionString);
    if ("failure" in opened) {
      this.startFailed.add(key);
      this.nodeLog(
        host,
        `FATAL  Unable to connect to the Octopus database (${this.databases.describe(connectionString)}): ${opened.failure}`,
      );
      return;
    }
    this.startFailed.delete(key);
    this.cluster.startNode(host, opened.database);
  }

  /** A line in the node's own server log (never a password: callers describe connection strings). */
  private nodeLog(host: string, line: string): void {
    const local = this.cluster.resolvePath(host, NODE_LOG);
    if (local === null) return;
    mkdirSync(path.dirname(local), { recursive: true });
    appendFileSync(local, `${new Date(this.cluster.now()).toISOString()}  ${line}\n`);
  }

  private serviceOf(host: string, instance: string, isNode: boolean): InstalledService {
    const key = serviceKey(host, instance);
    const pending = this.pending.get(key);
    const settled = isNode ? (this.cluster.node(host).running ? "RUNNING" : "STOPPED") : (this.otherState.get(key) ?? "RUNNING");
    const state: ServiceState = pending ? (pending.to === "STOPPED" ? "STOP_PENDING" : "START_PENDING") : settled;
    const failed = !pending && settled === "STOPPED" && this.startFailed.has(key);
    return {
      service: serviceNameFor(instance),
      instance,
      state,
      ...(isNode ? { node: host } : {}),
      ...(failed ? { win32ExitCode: 1067 } : {}),
    };
  }

  private reachable(host: string): string {
    const name = this.requireHost(host);
    const f = this.faults.get(name.toLowerCase());
    if (f?.unreachable) throw new MachineError("unreachable", `The RPC server is unavailable. (${name})`);
    if (f?.accessDenied) throw new MachineError("accessDenied", `Access is denied. (${name})`);
    return name;
  }

  private instancesOf(host: string): string[] {
    const made = (this.created.get(host.toLowerCase()) ?? []).map((c) => c.instance);
    if (!this.isNode(host)) return made;
    return this.instances.get(host.toLowerCase()) ?? (made.length > 0 ? made : [DEFAULT_INSTANCE]);
  }

  /** A config nobody wrote: the cluster's own database for installed nodes; nothing for an instance create-instance just made. */
  private baseConfig(host: string, instance: string): InstanceConfig {
    const made = (this.created.get(host.toLowerCase()) ?? []).some((c) => c.instance.toLowerCase() === instance.toLowerCase());
    return made ? {} : this.initialConfig;
  }

  /** Instances whose Windows service exists: a spare machine has none until service --install makes it a node. */
  private serviceInstances(host: string): string[] {
    return this.isNode(host) ? this.instancesOf(host) : [];
  }

  private isNode(host: string): boolean {
    return this.cluster.nodes().some((n) => n.name.toLowerCase() === host.toLowerCase());
  }

  private requireHost(host: string): string {
    const name = this.nodeName(host);
    if (!name)
      throw new MachineError("unknownHost", `There is no machine '${host}' in the simulated cluster (${this.hosts().join(", ")}).`);
    return name;
  }

  /** Host names are node names (or spare machines' names), case-insensitive as Windows machine names are. */
  private nodeName(host: string): string | undefined {
    return this.cluster.nodes().find((n) => n.name.toLowerCase() === host.toLowerCase())?.name ?? this.spares.get(host.toLowerCase())?.host;
  }
}

function serviceKey(host: string, instance: string): string {
  return `${host}\n${instance}`.toLowerCase();
}

/**
 * Octopus.Server.exe's refusal of an --instance not installed on its machine: the wording of the shared
 * library Octopus Server was built on (VERIFIED in Tentacle's copy; INFERRED for current Octopus Server).
 */
export function unknownInstanceMessage(wanted: string, installed: string[]): string {
  return `Instance ${wanted} of OctopusServer has not been configured on this machine. Available instances: ${availableText(installed)}.`;
}

/** Octopus lists instances sorted case-insensitively, comma-separated. */
export function availableText(instances: string[]): string {
  return [...instances].sort((a, b) => a.localeCompare(b, "en", { sensitivity: "base" })).join(", ");
}
