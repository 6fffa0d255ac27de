/**
 * The stand-in's Octopus.Server.exe: `path`, `show-configuration`, `service` and `database`, with the options
 * reference/octopus.md §3 documents, acting on the running stand-in through its control API.
 *
 * It runs on one simulated machine: $OCTOHA_STANDIN_MACHINE, else the control file's localMachine (the
 * machine octoha runs on). Like the real tool it knows only that machine's installed instances:
 * `--instance` must name one of them (case-insensitive); without it, the default instance OctopusServer,
 * else the only one. `service` acts on that machine only. `path` and `show-configuration` read and write
 * the cluster-wide settings in the shared database, so they work from any machine of the cluster: the
 * database that instance's config names, as the real tool connects with its instance's connection string.
 * `database --connectionString` writes this machine's instance's own config file: each node keeps its own copy.
 * Where the stand-in is: the control file named by $OCTOHA_STANDIN_CONTROL (written by startStandin
 * into its data dir as standin-control.json).
 * Exit codes: 0 done; 1 a controlled failure (message on stderr); 42 access denied (the real tool's
 * security exception); 100 a service that did not reach its state in time (the real tool's general exception).
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { compareVersions } from "./versions.js";
import type { ClusterState, SimFolders, SimNode } from "./model.js";
import { MACHINE_ENV } from "./control-info.js";
import {
  ControlError,
  controlClient,
  readControlInfo,
  standinMachines,
  type ControlClient,
  type StandinMachines,
} from "./machine-client.js";
import {
  availableText,
  DEFAULT_INSTANCE,
  unknownInstanceMessage,
  type InstalledService,
  type CreatedInstance,
  type MachineView,
} from "./machines.js";

export interface ExeResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** path options → SimFolders keys, and the version each appeared in (reference §3.1). */
const PATH_OPTIONS: Record<string, { key: keyof SimFolders | "cacheDirectory"; since?: string; label: string }> = {
  taskLogs: { key: "taskLogs", label: "Task logs" },
  artifacts: { key: "artifacts", label: "Artifacts" },
  nugetRepository: { key: "packages", label: "Built-in package repository" },
  clusterShared: { key: "clusterShared", since: "2020.2.15", label: "Cluster shared" },
  telemetry: { key: "telemetry", since: "2020.1", label: "Telemetry" },
  imports: { key: "imports", since: "2021.1", label: "Imports" },
  eventExports: { key: "eventExports", since: "2023.3", label: "Event exports" },
  cacheDirectory: { key: "cacheDirectory", label: "Cache directory" },
};
const COMMON_VALUE_OPTIONS = ["instance", "config"];
const PATH_FLAGS = ["skipDatabaseCompatibilityCheck", "skipDatabaseSchemaUpgradeCheck"];

class UsageError extends Error {}

interface Parsed {
  values: Map<string, string>;
  flags: Set<string>;
}

/** Accepts --x=v, --x v and bare --flag; anything not allowed is an error, as with the real CLI. */
export function parseOptions(argv: string[], valueOptions: string[], flagOptions: string[]): Parsed {
  const values = new Map<string, string>();
  const flags = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const m = /^--?([A-Za-z][A-Za-z0-9-]*)(?:=(.*))?$/s.exec(arg);
    if (!m) throw new UsageError(`Unrecognized command line arguments: ${arg}`);
    const name =
      valueOptions.find((o) => o.toLowerCase() === m[1]!.toLowerCase()) ?? flagOptions.find((o) => o.toLowerCase() === m[1]!.toLowerCase());
    if (!name) throw new UsageError(`Unrecognized command line arguments: --${m[1]}`);
    if (flagOptions.includes(name)) {
      if (m[2] !== undefined && !["true", "false"].includes(m[2].toLowerCase())) throw new UsageError(`Option --${name} takes no value`);
      if (m[2]?.toLowerCase() !== "false") flags.add(name);
      continue;
    }
    let value = m[2];
    if (value === undefined) {
      value = argv[i + 1];
      if (value === undefined || value.startsWith("--")) throw new UsageError(`Missing value for option --${name}`);
      i++;
    }
    values.set(name, value);
  }
  return { values, flags };
}

const SIMULATED = ["path", "show-configuration", "service", "database", "version", "create-instance", "configure"];

export interface ExeEnvironment {
  env: NodeJS.ProcessEnv;
}

export async function runOctopusServer(argv: string[], environment: ExeEnvironment): Promise<ExeResult> {
  const [command, ...rest] = argv;
  try {
    // The variable that once picked a node: a caller still setting it would silently act on the local machine.
    if (environment.env.OCTOHA_STANDIN_NODE !== undefined)
      throw new UsageError(`OCTOHA_STANDIN_NODE is no longer read: set ${MACHINE_ENV} to the machine (node name) this executable runs on.`);
    const info = readControlInfo(environment.env);
    const exe: Exe = { ctl: controlClient(info), machines: standinMachines(environment.env) };
    switch (command) {
      case "path":
        return await pathCommand(rest, exe);
      case "show-configuration":
        return await showConfiguration(rest, exe);
      case "service":
        return await serviceCommand(rest, exe);
      case "version":
        return await versionCommand(rest, exe);
      case "create-instance":
        return await createInstanceCommand(rest, exe);
      case "configure":
        return await configureCommand(rest, exe);
      case "database":
        return await databaseCommand(rest, exe);
      case undefined:
      case "help":
        return { exitCode: 0, stdout: `Usage: octopus-server <${SIMULATED.join("|")}> [options]\n`, stderr: "" };
      default:
        throw new UsageError(`Command '${command}' is not simulated by the octoha stand-in (it simulates ${SIMULATED.join(", ")}).`);
    }
  } catch (error) {
    const exitCode = error instanceof ExitError ? error.exitCode : 1;
    return { exitCode, stdout: "", stderr: `${error instanceof Error ? error.message : String(error)}\n` };
  }
}

/** A failure with the real tool's exit code for it. */
class ExitError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

interface Exe {
  ctl: ControlClient;
  machines: StandinMachines;
}

/** This machine's instance that --instance selects, as the real tool's instance selector picks it. */
async function localInstance(exe: Exe, wanted: string | undefined): Promise<{ machine: MachineView; instance: string }> {
  const host = exe.machines.localMachine;
  const machine = await exe.machines.machine(host).catch((error: unknown) => {
    if (error instanceof ControlError && error.code === "unknownHost")
      throw new Error(`${MACHINE_ENV}=${host} names no machine of the simulated cluster: ${error.message}`);
    throw error;
  });
  const list = machine.instances;
  if (wanted === "*") throw new UsageError("--instance * (every instance of the machine) is not simulated by the octoha stand-in.");
  // The instance selector of the shared library Octopus Server was built on [V for Tentacle's copy; INFERRED for Server].
  if (wanted !== undefined) {
    const found = list.find((i) => i.toLowerCase() === wanted.toLowerCase());
    if (!found) throw new Error(unknownInstanceMessage(wanted, list));
    return { machine, instance: found };
  }
  const byDefault = list.find((i) => i === DEFAULT_INSTANCE) ?? (list.length === 1 ? list[0] : undefined);
  if (!byDefault)
    throw new Error(
      `There is more than one instance of OctopusServer configured on this machine. Please pass --instance=INSTANCENAME when invoking this command to target a specific instance. Available instances: ${availableText(list)}.`,
    );
  return { machine, instance: byDefault };
}

/** The database an instance's config names, as that instance's commands open it; exit 1 when it cannot be opened. */
async function instanceDatabase(exe: Exe, host: string, instance: string): Promise<{ database: string; state: ClusterState }> {
  try {
    return await exe.machines.instanceDatabase(host, instance);
  } catch (error) {
    throw serviceFailure(error, host);
  }
}

/** The cluster node behind this machine's instance; other installations are not simulated. */
function nodeOf(state: ClusterState, machine: MachineView, instance: string): SimNode {
  if (instance !== machine.instances[0])
    throw new UsageError(
      `Instance ${instance} on ${machine.host} is not part of the simulated cluster (its node runs instance ${machine.instances[0]}): the octoha stand-in simulates only its service.`,
    );
  return state.nodes.find((n) => n.name === machine.host)!;
}

async function pathCommand(argv: string[], exe: Exe): Promise<ExeResult> {
  const { state } = await exe.ctl.get<{ state: ClusterState }>("state");
  // Options the simulated version lacks are unknown options, as they are to that version's CLI.
  const known = Object.entries(PATH_OPTIONS)
    .filter(([, o]) => !o.since || compareVersions(state.version, o.since) >= 0)
    .map(([name]) => name);
  const parsed = parseOptions(argv, [...known, ...COMMON_VALUE_OPTIONS], PATH_FLAGS);
  const { machine, instance } = await localInstance(exe, parsed.values.get("instance"));
  nodeOf(state, machine, instance);
  // The folders live in the database this instance's config names (reference §1.5), which after
  // `database --connectionString` is not the one the running nodes use.
  const own = await instanceDatabase(exe, machine.host, instance);
  const change: Partial<SimFolders> = {};
  const lines: string[] = [];
  // An unset ClusterShared is the Home folder [V, reference §1.5].
  const clusterShared = parsed.values.get("clusterShared") ?? own.state.folders.clusterShared ?? HOME;
  for (const [option, spec] of Object.entries(PATH_OPTIONS)) {
    const raw = parsed.values.get(option);
    if (raw === undefined) continue;
    if (raw.trim() === "") throw new UsageError(`The value for --${option} cannot be empty.`);
    // Relative paths resolve under clusterShared ([I] in the reference).
    const value =
      path.win32.isAbsolute(raw) || raw.startsWith("/") || !clusterShared || option === "clusterShared"
        ? raw
        : path.win32.join(clusterShared, raw);
    if (spec.key !== "cacheDirectory") change[spec.key] = value;
    lines.push(`${spec.label} directory set to: ${value}`);
  }
  if (lines.length === 0) throw new UsageError("No folder was given: pass at least one of --" + known.join(", --"));
  try {
    await exe.machines.setInstanceFolders(machine.host, instance, change);
  } catch (error) {
    throw serviceFailure(error, machine.host);
  }
  lines.push("These changes require a restart of the Octopus Server.");
  return { exitCode: 0, stdout: `${lines.join("\n")}\n`, stderr: "" };
}

async function showConfiguration(argv: string[], exe: Exe): Promise<ExeResult> {
  const parsed = parseOptions(argv, ["format", "file", ...COMMON_VALUE_OPTIONS], ["noconsolelogging", "console"]);
  const format = (parsed.values.get("format") ?? "xml").toLowerCase();
  if (!["xml", "json", "json-hierarchical"].includes(format))
    throw new UsageError(`Unknown format '${format}': use XML, json or json-hierarchical.`);
  const { state } = await exe.ctl.get<{ state: ClusterState }>("state");
  const { machine, instance } = await localInstance(exe, parsed.values.get("instance"));
  const made = machine.spare ? machine.created.find((c) => c.instance.toLowerCase() === instance.toLowerCase()) : undefined;
  if (made)
    return showMadeInstance(
      made,
      format,
      parsed.flags.has("noconsolelogging"),
      state.version,
      await exe.machines.config(machine.host, instance),
    );
  const node = nodeOf(state, machine, instance);
  const { connectionString } = await exe.machines.config(machine.host, instance);
  // Folders, task cap and drain are read from the database this instance's config names (reference §1.5, §1.3).
  // What the real tool prints when that database cannot be opened is UNKNOWN: the stand-in prints the config
  // file's values only, leaves the database's out and says so on stderr, so a node's connection string stays readable.
  let own: { state: ClusterState } | undefined;
  let unavailable = "";
  try {
    own = await exe.machines.instanceDatabase(machine.host, instance);
  } catch (error) {
    if (!(error instanceof ControlError && error.code === "databaseUnavailable")) throw serviceFailure(error, machine.host);
    unavailable = `The values kept in the database (folders, task cap, drain) are left out: ${error.message}\n`;
  }
  const row = own?.state.nodes.find((n) => n.name.toLowerCase() === node.name.toLowerCase());
  const values = configurationValues(
    { ...state, folders: own?.state.folders ?? state.folders },
    row ? { ...node, maxConcurrentTasks: row.maxConcurrentTasks, isDraining: row.isDraining } : node,
    connectionString,
  );
  const flat = own ? values : Object.fromEntries(Object.entries(values).filter(([key]) => !DATABASE_KEYS.test(key)));
  let body: string;
  if (format === "json") body = JSON.stringify(flat, null, 2);
  else if (format === "json-hierarchical") body = JSON.stringify(hierarchical(flat), null, 2);
  else
    body = `<?xml version="1.0" encoding="utf-8"?>\n<octopus-settings>\n${Object.entries(flat)
      .map(([k, v]) => `  <set key="${k}">${xmlEscape(String(v))}</set>`)
      .join("\n")}\n</octopus-settings>`;
  const file = parsed.values.get("file");
  if (file) {
    writeFileSync(file, body);
    body = "";
  }
  // Like the real one, it logs to the console first unless told not to (reference §3.5).
  const banner = parsed.flags.has("noconsolelogging")
    ? ""
    : `Octopus Deploy: Octopus Server version ${state.version}\nShowing configuration for instance ${instance} (node ${node.name})\n`;
  return { exitCode: 0, stdout: `${banner}${body}${body ? "\n" : ""}`, stderr: unavailable };
}

/**
 * show-configuration of an instance create-instance made on a machine that is not a node yet: its config file's
 * values (Home, node name, and the connection string once `database` set it). What the real tool adds from a
 * database it cannot open, or has not been given, is UNKNOWN: the stand-in prints none of it.
 */
function showMadeInstance(
  made: CreatedInstance,
  format: string,
  quiet: boolean,
  version: string,
  config: { connectionString?: string },
): ExeResult {
  const flat: Record<string, string> = {
    "Octopus.Home": made.home,
    ...(config.connectionString !== undefined ? { "Octopus.Storage.ExternalDatabaseConnectionString": config.connectionString } : {}),
    "Octopus.Server.NodeName": made.nodeName,
  };
  const body =
    format === "json"
      ? JSON.stringify(flat, null, 2)
      : format === "json-hierarchical"
        ? JSON.stringify(hierarchical(flat), null, 2)
        : `<?xml version="1.0" encoding="utf-8"?>\n<octopus-settings>\n${Object.entries(flat)
            .map(([k, v]) => `  <set key="${k}">${xmlEscape(v)}</set>`)
            .join("\n")}\n</octopus-settings>`;
  const banner = quiet ? "" : `Octopus Deploy: Octopus Server version ${version}\nShowing configuration for instance ${made.instance}\n`;
  return { exitCode: 0, stdout: `${banner}${body}\n`, stderr: "" };
}

/** show-configuration's keys whose values live in the database, not in the instance's config file (reference §1.3, §1.5). */
const DATABASE_KEYS = /^Octopus\.(Folders\.|Server\.TaskCap$|Server\.MaintenanceMode$)/;

/** Every simulated node's Home folder (show-configuration's Octopus.Home). */
export const HOME = "C:\\Octopus";

/**
 * Keys as show-configuration prints them; folder values come from the DB (what `path` last wrote).
 * A folder nobody set is not printed (what the real tool prints then is not documented): a reader
 * derives it from Octopus.Home, ClusterShared being Home and the other kinds its children.
 */
export function configurationValues(
  state: ClusterState,
  node: SimNode,
  connectionString?: string,
): Record<string, string | number | boolean> {
  const has = (min: string) => compareVersions(state.version, min) >= 0;
  const out: Record<string, string | number | boolean> = {
    "Octopus.Home": HOME,
    // The node's own config file's value, printed as stored, password and all: VERIFIED (Octopus's upgrade
    // script reads it from --format=JSON under this key; OctopusDSC's sample json-hierarchical output
    // shows Storage.ExternalDatabaseConnectionString with its Password=). The master key is not printed:
    // whether show-configuration shows Octopus.Storage.MasterKey is UNKNOWN.
    ...(connectionString !== undefined ? { "Octopus.Storage.ExternalDatabaseConnectionString": connectionString } : {}),
    "Octopus.Server.NodeName": node.name,
    "Octopus.Server.TaskCap": node.maxConcurrentTasks,
    "Octopus.Server.MaintenanceMode": node.isDraining,
    "Octopus.Folders.LogDirectory": state.folders.taskLogs,
    "Octopus.Folders.ArtifactsDirectory": state.folders.artifacts,
    "Octopus.Folders.PackagesDirectory": state.folders.packages,
    "Octopus.Node.Cache": "C:\\Octopus\\OctopusServer\\PackageCache",
  };
  if (has("2020.2.15") && state.folders.clusterShared) out["Octopus.Folders.ClusterSharedDirectory"] = state.folders.clusterShared;
  if (has("2020.1") && state.folders.telemetry) out["Octopus.Folders.TelemetryDirectory"] = state.folders.telemetry;
  if (has("2021.1") && state.folders.imports) out["Octopus.Folders.ImportsDirectory"] = state.folders.imports;
  if (has("2023.3") && state.folders.eventExports) out["Octopus.Folders.EventExportsDirectory"] = state.folders.eventExports;
  return out;
}

function hierarchical(flat: Record<string, unknown>): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(flat)) {
    const parts = key.split(".");
    let cur = root;
    for (const p of parts.slice(0, -1)) cur = (cur[p] ??= {}) as Record<string, unknown>;
    cur[parts[parts.length - 1]!] = value;
  }
  return root;
}

/**
 * `version [--format text|json]`: the Octopus Server installed on this machine [V: the command, D-VER]. What it
 * prints is not documented [U]: the look-alike prints the bare version (text) or {"Version": …} (json).
 */
async function versionCommand(argv: string[], exe: Exe): Promise<ExeResult> {
  const parsed = parseOptions(argv, ["format"], ["console", "noconsolelogging"]);
  const format = (parsed.values.get("format") ?? "text").toLowerCase();
  if (!["text", "json"].includes(format)) throw new UsageError(`Unknown format '${format}': use text or json.`);
  const machine = await exe.machines.machine(exe.machines.localMachine);
  const body = format === "json" ? JSON.stringify({ Version: machine.octopusVersion }) : machine.octopusVersion;
  return { exitCode: 0, stdout: `${body}\n`, stderr: "" };
}

/** `create-instance --instance X --config PATH [--home H] [--serverNodeName N]` (option names: JOIN_FACTS, CMD/create-instance). */
async function createInstanceCommand(argv: string[], exe: Exe): Promise<ExeResult> {
  const parsed = parseOptions(argv, ["instance", "config", "home", "serverNodeName"], ["console", "noconsolelogging"]);
  const config = parsed.values.get("config");
  if (!config) throw new UsageError("Missing value for option --config: the path of the configuration file to create.");
  const instance = parsed.values.get("instance") ?? DEFAULT_INSTANCE;
  const host = exe.machines.localMachine;
  // The node name defaults to the machine name; Home to the config file's folder [V, CMD/create-instance].
  const home = parsed.values.get("home") ?? path.win32.dirname(config);
  const nodeName = parsed.values.get("serverNodeName") ?? host;
  try {
    await exe.machines.createInstance(host, { instance, config, home, nodeName });
  } catch (error) {
    throw serviceFailure(error, host);
  }
  return {
    exitCode: 0,
    stdout: `Creating installation instance ${instance}\nConfiguration file: ${config}\nHome directory: ${home}\n`,
    stderr: "",
  };
}

/** `configure --instance X [--home] [--serverNodeName] [--webForceSSL] [--webListenPrefixes] [--commsListenPort]` on an instance made here. */
async function configureCommand(argv: string[], exe: Exe): Promise<ExeResult> {
  const parsed = parseOptions(
    argv,
    [...COMMON_VALUE_OPTIONS, "home", "serverNodeName", "webForceSSL", "webListenPrefixes", "commsListenPort"],
    ["console", "noconsolelogging"],
  );
  const { machine, instance } = await localInstance(exe, parsed.values.get("instance"));
  if (!machine.created.some((c) => c.instance === instance))
    throw new UsageError(
      `configure on ${instance}, an instance of the simulated cluster's own nodes, is not simulated by the octoha stand-in.`,
    );
  const change: Partial<CreatedInstance> = {};
  const v = parsed.values;
  if (v.has("home")) change.home = v.get("home")!;
  if (v.has("serverNodeName")) change.nodeName = v.get("serverNodeName")!;
  if (v.has("webListenPrefixes")) change.webListenPrefixes = v.get("webListenPrefixes")!;
  if (v.has("webForceSSL")) {
    const b = v.get("webForceSSL")!.toLowerCase();
    if (b !== "true" && b !== "false") throw new UsageError(`--webForceSSL takes True or False, not '${v.get("webForceSSL")}'.`);
    change.webForceSSL = b === "true";
  }
  if (v.has("commsListenPort")) {
    const port = Number(v.get("commsListenPort"));
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      throw new UsageError(`--commsListenPort must be a port number, not '${v.get("commsListenPort")}'.`);
    change.commsListenPort = port;
  }
  try {
    await exe.machines.configureInstance(machine.host, instance, change);
  } catch (error) {
    throw serviceFailure(error, machine.host);
  }
  const lines = Object.entries(change).map(([k, value]) => `${k} set to: ${String(value)}`);
  return { exitCode: 0, stdout: `${lines.join("\n")}\nThese changes require a restart of the Octopus Server.\n`, stderr: "" };
}

/** `service --install --reconfigure --start` for an instance create-instance made here: the node joins the cluster. */
async function installService(parsed: Parsed, exe: Exe): Promise<ExeResult> {
  if (parsed.flags.has("uninstall")) throw new UsageError("service --uninstall is not simulated by the octoha stand-in.");
  const { machine, instance } = await localInstance(exe, parsed.values.get("instance"));
  if (!machine.created.some((c) => c.instance === instance))
    throw new UsageError(
      `service --install on ${instance}, an instance of the simulated cluster's own nodes, is not simulated by the octoha stand-in.`,
    );
  const lines = [`Installing service for ${instance}`];
  try {
    if (!parsed.flags.has("start")) {
      await exe.machines.configureInstance(machine.host, instance, { serviceInstalled: true });
      return { exitCode: 0, stdout: `${lines.join("\n")}\nService installed\n`, stderr: "" };
    }
    const r = await exe.machines.installAndStart(machine.host, instance);
    lines.push(
      "Service installed",
      `Starting service ${instance === DEFAULT_INSTANCE ? "OctopusDeploy" : `OctopusDeploy: ${instance}`}`,
      "Service started",
    );
    if (r.joined) lines.push(`Registered server node ${r.node}`);
  } catch (error) {
    throw serviceFailure(error, machine.host);
  }
  return { exitCode: 0, stdout: `${lines.join("\n")}\n`, stderr: "" };
}

async function serviceCommand(argv: string[], exe: Exe): Promise<ExeResult> {
  const parsed = parseOptions(
    argv,
    [...COMMON_VALUE_OPTIONS, "username", "user", "password", "dependOn"],
    ["start", "stop", "restart", "install", "reconfigure", "uninstall"],
  );
  if (parsed.flags.has("install") || parsed.flags.has("reconfigure")) return installService(parsed, exe);
  for (const unsupported of ["install", "reconfigure", "uninstall"]) {
    if (parsed.flags.has(unsupported)) throw new UsageError(`service --${unsupported} is not simulated by the octoha stand-in.`);
  }
  const stop = parsed.flags.has("stop") || parsed.flags.has("restart");
  const start = parsed.flags.has("start") || parsed.flags.has("restart");
  if (!stop && !start) throw new UsageError("service needs --start, --stop or --restart.");
  const { machine, instance } = await localInstance(exe, parsed.values.get("instance"));
  const lines: string[] = [];
  try {
    if (stop) {
      const svc = await settled(exe, machine.host, instance);
      lines.push(`Stopping service ${svc.service}`);
      if (svc.state !== "STOPPED") await exe.machines.control(machine.host, svc.service, "stop");
      await waitFor(exe, machine.host, instance, "STOPPED");
      lines.push("Service stopped");
    }
    if (start) {
      const svc = await settled(exe, machine.host, instance);
      lines.push(`Starting service ${svc.service}`);
      if (svc.state !== "RUNNING") await exe.machines.control(machine.host, svc.service, "start");
      await waitFor(exe, machine.host, instance, "RUNNING");
      lines.push("Service started");
    }
  } catch (error) {
    throw serviceFailure(error, machine.host);
  }
  return { exitCode: 0, stdout: `${lines.join("\n")}\n`, stderr: "" };
}

/**
 * `database --connectionString=VALUE [--masterKey=KEY]` (research-database §4.1): saved in this machine's
 * instance's config file; the running node keeps its database until restarted. --create, --upgrade,
 * --delete and --grant are not simulated (octoha never changes a database). The output lines are
 * INFERRED (the real tool's wording is not documented); it never echoes the value.
 */
async function databaseCommand(argv: string[], exe: Exe): Promise<ExeResult> {
  const parsed = parseOptions(
    argv,
    [...COMMON_VALUE_OPTIONS, "connectionString", "masterKey", "grant"],
    ["create", "upgrade", "delete", "skipLicenseCheck", "skipDatabaseCompatibilityCheck"],
  );
  for (const unsupported of ["create", "upgrade", "delete"])
    if (parsed.flags.has(unsupported)) throw new UsageError(`database --${unsupported} is not simulated by the octoha stand-in.`);
  if (parsed.values.has("grant")) throw new UsageError("database --grant is not simulated by the octoha stand-in.");
  const connectionString = parsed.values.get("connectionString");
  const masterKey = parsed.values.get("masterKey");
  if (connectionString === undefined && masterKey === undefined)
    throw new UsageError("database needs --connectionString and/or --masterKey (the octoha stand-in simulates only those).");
  for (const [option, value] of [
    ["connectionString", connectionString],
    ["masterKey", masterKey],
  ] as const)
    if (value !== undefined && value.trim() === "") throw new UsageError(`The value for --${option} cannot be empty.`);
  const { state } = await exe.ctl.get<{ state: ClusterState }>("state");
  const { machine, instance } = await localInstance(exe, parsed.values.get("instance"));
  nodeOf(state, machine, instance);
  try {
    await exe.machines.configureDatabase(machine.host, instance, { connectionString, masterKey });
  } catch (error) {
    if (error instanceof ControlError && error.code === "masterKeyMismatch")
      // Wording INFERRED: the real tool's refusal of a master key that does not decrypt the database is not documented.
      throw new ExitError(
        `The master key given does not match the one the database was encrypted with: nothing was saved for instance ${instance}. Use the cluster's master key (Octopus Manager: View master key on an existing node).`,
        1,
      );
    throw serviceFailure(error, machine.host);
  }
  const lines = [
    ...(connectionString !== undefined ? [`Database connection string saved for instance ${instance}.`] : []),
    ...(masterKey !== undefined ? [`Master key saved for instance ${instance}.`] : []),
    "These changes require a restart of the Octopus Server.",
  ];
  return { exitCode: 0, stdout: `${lines.join("\n")}\n`, stderr: "" };
}

/** How often and how long the tool waits for its service (the real one: 300 ms x 150 for a stop). */
const POLL_MS = 100;
const WAIT_MS = 45_000;

async function serviceState(exe: Exe, host: string, instance: string): Promise<InstalledService> {
  return (await exe.machines.services(host)).find((s) => s.instance === instance)!;
}

/** The service once it is no longer pending (a stop or start by someone else is let finish first). */
async function settled(exe: Exe, host: string, instance: string): Promise<InstalledService> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const svc = await serviceState(exe, host, instance);
    if (!svc.state.endsWith("_PENDING")) return svc;
    if (Date.now() > deadline) throw new ExitError(`The service ${svc.service} stayed ${svc.state}: Exceeded max retries.`, 100);
    await sleep(POLL_MS);
  }
}

async function waitFor(exe: Exe, host: string, instance: string, want: "STOPPED" | "RUNNING"): Promise<void> {
  const svc = await settled(exe, host, instance);
  if (svc.state !== want)
    throw new ExitError(`The service ${svc.service} could not be ${want === "STOPPED" ? "stopped" : "started"}: it is ${svc.state}.`, 1);
}

/** A refused service request, as the real tool reports it. */
function serviceFailure(error: unknown, host: string): unknown {
  if (!(error instanceof ControlError)) return error;
  if (error.code === "accessDenied")
    return new ExitError(
      "A security exception was encountered. Please try re-running the command as an Administrator from an elevated command prompt.",
      42,
    );
  if (
    error.code === "instanceExists" ||
    error.code === "notConfigured" ||
    error.code === "nodeNameTaken" ||
    error.code === "databaseUnavailable" ||
    error.code === "serviceDoesNotExist"
  )
    return new ExitError(error.message, 1);
  if (error.code === "unreachable")
    // Stand-in wording: the machine is down or cut off, so nothing could be run on it.
    return new ExitError(`The octoha stand-in's machine ${host} is unreachable (machine fault): nothing ran on it.`, 1);
  return error;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function xmlEscape(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
