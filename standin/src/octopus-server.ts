/**
 * The stand-in's Octopus.Server.exe: `path`, `show-configuration` and `service`, with the options
 * reference/octopus.md §3 documents, acting on the running stand-in through its control API.
 *
 * Which node it acts as: $OCTOHA_STANDIN_NODE when set; otherwise `--instance NAME` when NAME is a
 * node name (case-insensitive); otherwise, for `path` and `show-configuration` only, the first node
 * (`path` is cluster-wide anyway). `service` refuses to guess.
 * Where the stand-in is: the control file named by $OCTOHA_STANDIN_CONTROL (written by startStandin
 * into its data dir as standin-control.json).
 * Exit codes: 0 done; 1 anything failed (message on stderr), as the real tool's exact codes are not documented.
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { compareVersions } from "./versions.js";
import type { ClusterState, SimFolders, SimNode } from "./model.js";
import { CONTROL_ENV, NODE_ENV, type ControlInfo } from "./control-info.js";

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

export interface ExeEnvironment {
  env: NodeJS.ProcessEnv;
  fetch?: typeof fetch;
}

export async function runOctopusServer(argv: string[], environment: ExeEnvironment): Promise<ExeResult> {
  const [command, ...rest] = argv;
  try {
    const controlPath = environment.env[CONTROL_ENV];
    if (!controlPath)
      throw new Error(`${CONTROL_ENV} is not set: it must name the stand-in's control file (<data dir>/standin-control.json).`);
    const info = JSON.parse(readFileSync(controlPath, "utf8")) as ControlInfo;
    const ctl = controlClient(info, environment.fetch ?? fetch);
    switch (command) {
      case "path":
        return await pathCommand(rest, ctl, environment);
      case "show-configuration":
        return await showConfiguration(rest, ctl, environment);
      case "service":
        return await serviceCommand(rest, ctl, environment);
      case undefined:
      case "help":
        return { exitCode: 0, stdout: "Usage: octopus-server <path|show-configuration|service> [options]\n", stderr: "" };
      default:
        throw new UsageError(
          `Command '${command}' is not simulated by the octoha stand-in (it simulates path, show-configuration and service).`,
        );
    }
  } catch (error) {
    return { exitCode: 1, stdout: "", stderr: `${error instanceof Error ? error.message : String(error)}\n` };
  }
}

interface ControlClient {
  get<T>(p: string): Promise<T>;
  post<T>(p: string, body: unknown): Promise<T>;
}

function controlClient(info: ControlInfo, f: typeof fetch): ControlClient {
  const call = async <T>(method: string, p: string, body?: unknown): Promise<T> => {
    let res: Response;
    try {
      res = await f(`${info.controlUrl}/${p}`, {
        method,
        headers: { "X-Standin-Token": info.token, "Content-Type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      });
    } catch (error) {
      throw new Error(
        `Could not connect to the database: the stand-in at ${info.controlUrl} did not answer (${(error as Error).message}).`,
      );
    }
    const text = await res.text();
    if (!res.ok) throw new Error((JSON.parse(text) as { ErrorMessage?: string }).ErrorMessage ?? `HTTP ${res.status}`);
    return JSON.parse(text) as T;
  };
  return { get: (p) => call("GET", p), post: (p, body) => call("POST", p, body) };
}

function pickNode(state: ClusterState, instance: string | undefined, env: NodeJS.ProcessEnv, mustBeExplicit: boolean): SimNode {
  const wanted = env[NODE_ENV] ?? instance;
  const byName = wanted ? state.nodes.find((n) => n.name.toLowerCase() === wanted.toLowerCase()) : undefined;
  if (byName) return byName;
  if (env[NODE_ENV])
    throw new Error(`${NODE_ENV}=${env[NODE_ENV]} names no node of the simulated cluster (${state.nodes.map((n) => n.name).join(", ")}).`);
  if (mustBeExplicit && state.nodes.length > 1)
    throw new Error(
      `The instance '${instance ?? "OctopusServer"}' is not one of the simulated nodes (${state.nodes.map((n) => n.name).join(", ")}): pass --instance <NODE> or set ${NODE_ENV}.`,
    );
  return state.nodes[0]!;
}

async function pathCommand(argv: string[], ctl: ControlClient, environment: ExeEnvironment): Promise<ExeResult> {
  const { state } = await ctl.get<{ state: ClusterState }>("state");
  // Options the simulated version lacks are unknown options, as they are to that version's CLI.
  const known = Object.entries(PATH_OPTIONS)
    .filter(([, o]) => !o.since || compareVersions(state.version, o.since) >= 0)
    .map(([name]) => name);
  const parsed = parseOptions(argv, [...known, ...COMMON_VALUE_OPTIONS], PATH_FLAGS);
  pickNode(state, parsed.values.get("instance"), environment.env, false);
  const change: Partial<SimFolders> = {};
  const lines: string[] = [];
  // An unset ClusterShared is the Home folder [V, reference §1.5].
  const clusterShared = parsed.values.get("clusterShared") ?? state.folders.clusterShared ?? HOME;
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
  await ctl.post("path", change);
  lines.push("These changes require a restart of the Octopus Server.");
  return { exitCode: 0, stdout: `${lines.join("\n")}\n`, stderr: "" };
}

async function showConfiguration(argv: string[], ctl: ControlClient, environment: ExeEnvironment): Promise<ExeResult> {
  const parsed = parseOptions(argv, ["format", "file", ...COMMON_VALUE_OPTIONS], ["noconsolelogging", "console"]);
  const format = (parsed.values.get("format") ?? "xml").toLowerCase();
  if (!["xml", "json", "json-hierarchical"].includes(format))
    throw new UsageError(`Unknown format '${format}': use XML, json or json-hierarchical.`);
  const { state } = await ctl.get<{ state: ClusterState }>("state");
  const node = pickNode(state, parsed.values.get("instance"), environment.env, false);
  const flat = configurationValues(state, node);
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
    : `Octopus Deploy: Octopus Server version ${state.version}\nShowing configuration for instance ${parsed.values.get("instance") ?? "OctopusServer"} (node ${node.name})\n`;
  return { exitCode: 0, stdout: `${banner}${body}${body ? "\n" : ""}`, stderr: "" };
}

/** Every simulated node's Home folder (show-configuration's Octopus.Home). */
export const HOME = "C:\\Octopus";

/**
 * Keys as show-configuration prints them; folder values come from the DB (what `path` last wrote).
 * A folder nobody set is not printed (what the real tool prints then is not documented): a reader
 * derives it from Octopus.Home, ClusterShared being Home and the other kinds its children.
 */
export function configurationValues(state: ClusterState, node: SimNode): Record<string, string | number | boolean> {
  const has = (min: string) => compareVersions(state.version, min) >= 0;
  const out: Record<string, string | number | boolean> = {
    "Octopus.Home": HOME,
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

async function serviceCommand(argv: string[], ctl: ControlClient, environment: ExeEnvironment): Promise<ExeResult> {
  const parsed = parseOptions(
    argv,
    [...COMMON_VALUE_OPTIONS, "username", "user", "password", "dependOn"],
    ["start", "stop", "restart", "install", "reconfigure", "uninstall"],
  );
  for (const unsupported of ["install", "reconfigure", "uninstall"]) {
    if (parsed.flags.has(unsupported)) throw new UsageError(`service --${unsupported} is not simulated by the octoha stand-in.`);
  }
  const { state } = await ctl.get<{ state: ClusterState }>("state");
  const node = pickNode(state, parsed.values.get("instance"), environment.env, true);
  const lines: string[] = [];
  const name = encodeURIComponent(node.name);
  if (parsed.flags.has("stop") || parsed.flags.has("restart")) {
    await ctl.post(`services/${name}/stop`, {});
    lines.push(`Stopping service OctopusDeploy: ${node.name}`, "Service stopped");
  }
  if (parsed.flags.has("start") || parsed.flags.has("restart")) {
    await ctl.post(`services/${name}/start`, {});
    lines.push(`Starting service OctopusDeploy: ${node.name}`, "Service started");
  }
  if (lines.length === 0) throw new UsageError("service needs --start, --stop or --restart.");
  return { exitCode: 0, stdout: `${lines.join("\n")}\n`, stderr: "" };
}

function xmlEscape(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
