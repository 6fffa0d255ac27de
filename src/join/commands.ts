/**
 * The `Octopus.Server.exe` commands that add a node to the cluster, in order, quoted for PowerShell
 * (Windows) or bash (Linux). The master key and the connection string are never arguments here:
 * the commands name environment variables, which the shell on the new node expands.
 *
 * Option names, and where they come from (Octopus's command-line reference):
 * | command / option                                               | conf     | source |
 * | create-instance --instance --config --home --serverNodeName    | VERIFIED | CMD/create-instance ("Unique Server Node name for a clustered environment") |
 * | database --instance --connectionString --masterKey (no --create) | VERIFIED | CMD/database ("Use this option when pointing to
 * |   an existing database that uses an existing Master Key") |
 * | configure --instance --webForceSSL --webListenPrefixes --commsListenPort | VERIFIED | CMD/configure; HA guide's "second and additional nodes" script |
 * | configure --serverNodeName is deprecated: the name goes to create-instance | VERIFIED | CMD/configure |
 * | path --clusterShared --taskLogs --artifacts --nugetRepository --imports --eventExports | VERIFIED | CMD/path (stored in the database, cluster-wide) |
 * | service --install --reconfigure --start | VERIFIED | CMD/service |
 * | no `service --stop` before it: the commands before it install and start no service on the new node (as the join run does) | INFERRED | CMD/service |
 * | service account from OCTOPUS_SERVICE_USERNAME / OCTOPUS_SERVICE_PASSWORD | VERIFIED | CMD/service ("Can also be passed via an environment variable") |
 * | listen prefix http://+:PORT/ (any host name, so the load balancer's Host header is accepted) | INFERRED | HTTP.sys prefix matching |
 * | Linux executable /opt/octopus/Octopus.Server, home /var/opt/octopus | INFERRED | no non-container Linux install path is documented |
 * | version [--format text|json]: the Octopus Server installed on the machine (what it prints: UNKNOWN) | VERIFIED | CMD/version |
 * CMD = https://octopus.com/docs/octopus-rest-api/octopus.server.exe-command-line; HA guide =
 * https://octopus.com/docs/administration/high-availability
 */
import { shellLine } from "../octopus/control/index.js";
import type { Plan } from "../plan/schema.js";
import { InputError } from "../shared/errors.js";

export type JoinPlatform = "windows" | "linux";

/** An argument the shell takes from an environment variable on the new node. */
export interface EnvArg {
  env: string;
}
export type JoinArg = string | EnvArg;

export interface JoinCommand {
  step: "create-instance" | "database" | "configure" | "path" | "service-install";
  why: string;
  argv: JoinArg[];
  commandLine: string;
  /** Printed commented out: run only in the case `why` names. */
  optional?: boolean;
}

export interface JoinCommandOptions {
  node: string;
  platform: JoinPlatform;
  instance: string;
  serverExe?: string;
  home?: string;
  config?: string;
  /** HTTP.sys listen prefixes (comma-joined for --webListenPrefixes). */
  listenPrefixes: string[];
  commsPort: number;
  masterKeyEnv: string;
  connectionStringEnv: string;
}

export const JOIN_FACTS: { fact: string; conf: "VERIFIED" | "INFERRED"; source: string }[] = [
  { fact: "create-instance --instance --config --home --serverNodeName", conf: "VERIFIED", source: "CMD/create-instance" },
  { fact: "database --connectionString --masterKey (existing database: no --create)", conf: "VERIFIED", source: "CMD/database" },
  { fact: "configure --webForceSSL --webListenPrefixes --commsListenPort", conf: "VERIFIED", source: "CMD/configure; HA guide" },
  { fact: "node name at create-instance (configure --serverNodeName is deprecated)", conf: "VERIFIED", source: "CMD/configure" },
  { fact: "path: folders are stored in the database, cluster-wide", conf: "VERIFIED", source: "CMD/path; HA guide" },
  { fact: "service --install --reconfigure --start", conf: "VERIFIED", source: "CMD/service" },
  {
    fact: "no service --stop before it: the commands before it install and start no service on the new node",
    conf: "INFERRED",
    source: "CMD/service",
  },
  { fact: "service account from OCTOPUS_SERVICE_USERNAME / OCTOPUS_SERVICE_PASSWORD", conf: "VERIFIED", source: "CMD/service" },
  { fact: "listen prefix http://+:PORT/ accepts the load balancer's Host header", conf: "INFERRED", source: "HTTP.sys prefix matching" },
  { fact: "Linux paths /opt/octopus/Octopus.Server, /var/opt/octopus", conf: "INFERRED", source: "not documented outside containers" },
  { fact: "version [--format text|json]: the installed Octopus Server version", conf: "VERIFIED", source: "CMD/version" },
  { fact: "what version prints (octoha reads its first version-looking word)", conf: "INFERRED", source: "not documented" },
  {
    fact: "Test-Path in Invoke-Command checks a share as the remoting account; a UNC path meets the Kerberos double hop",
    conf: "INFERRED",
    source: "PowerShell remoting",
  },
];
export const JOIN_SOURCES = {
  CMD: "https://octopus.com/docs/octopus-rest-api/octopus.server.exe-command-line",
  "HA guide": "https://octopus.com/docs/administration/high-availability",
};

const DEFAULTS: Record<JoinPlatform, { exe: string; home: string; config: (instance: string) => string }> = {
  windows: {
    exe: "C:\\Program Files\\Octopus Deploy\\Octopus\\Octopus.Server.exe",
    home: "C:\\Octopus",
    config: (i) => `C:\\Octopus\\${i === "OctopusServer" ? "OctopusServer" : `OctopusServer-${i}`}.config`,
  },
  linux: {
    exe: "/opt/octopus/Octopus.Server",
    home: "/var/opt/octopus",
    config: (i) => `/var/opt/octopus/${i === "OctopusServer" ? "OctopusServer" : `OctopusServer-${i}`}.config`,
  },
};

/** Octopus.Server where an install puts it on that platform (Windows: VERIFIED; Linux: INFERRED, see above). */
export function defaultServerExe(platform: JoinPlatform): string {
  return DEFAULTS[platform].exe;
}

/** Windows PowerShell 5.1 passes a quoted argument ending in a backslash as an escaped quote: drop trailing separators. */
const trimSeparators = (p: string): string => (/^[A-Za-z]:\\$/.test(p) || p === "/" ? p : p.replace(/[\\/]+$/, ""));

/** The same writing as the commands a join run shows (src/octopus/control/command-line.ts). */
export function commandLine(platform: JoinPlatform, argv: JoinArg[]): string {
  return shellLine(platform === "windows" ? "powershell" : "posix", argv);
}

export function joinCommands(plan: Plan, o: JoinCommandOptions): JoinCommand[] {
  const d = DEFAULTS[o.platform];
  const exe = o.serverExe ?? d.exe;
  const instance = ["--instance", o.instance];
  const home = trimSeparators(o.home ?? d.home);
  const config = trimSeparators(o.config ?? d.config(o.instance));
  const shared = plan.shared;
  const folders: [string, string | undefined][] = [
    ["--clusterShared", shared.clusterShared?.octopus],
    ["--taskLogs", shared.taskLogs.octopus],
    ["--artifacts", shared.artifacts.octopus],
    ["--nugetRepository", shared.packages.octopus],
    ["--imports", shared.imports?.octopus],
    ["--eventExports", shared.eventExports?.octopus],
  ];
  const make = (step: JoinCommand["step"], why: string, args: JoinArg[], optional?: boolean): JoinCommand => {
    const argv = [exe, ...args];
    return { step, why, argv, commandLine: commandLine(o.platform, argv), ...(optional ? { optional } : {}) };
  };
  return [
    make("create-instance", `Register the instance on this machine, with its home folder and its node name ${o.node}.`, [
      "create-instance",
      ...instance,
      "--config",
      config,
      "--home",
      home,
      "--serverNodeName",
      o.node,
    ]),
    make("database", "Point it at the cluster's database with the cluster's master key (the database exists: no --create).", [
      "database",
      ...instance,
      "--connectionString",
      { env: o.connectionStringEnv },
      "--masterKey",
      { env: o.masterKeyEnv },
    ]),
    make("configure", "Listen where the load balancer and the other nodes reach it; TLS, if any, ends at the load balancer.", [
      "configure",
      ...instance,
      "--webForceSSL",
      "False",
      "--webListenPrefixes",
      o.listenPrefixes.join(","),
      "--commsListenPort",
      String(o.commsPort),
    ]),
    make(
      "path",
      "Only if the cluster does not use these folders yet: folder paths live in the database and the new node reads them from there " +
        "(octoha run / repair set them). Running it changes them for every node.",
      ["path", ...instance, ...folders.flatMap(([opt, value]) => (value ? [opt, value] : []))],
      true,
    ),
    make(
      "service-install",
      "Install and start the Windows service / systemd unit; a service account comes from OCTOPUS_SERVICE_USERNAME and OCTOPUS_SERVICE_PASSWORD when set.",
      ["service", ...instance, "--install", "--reconfigure", "--start"],
    ),
  ];
}

/** http://octo3.corp:8080/octopus/ → http://+:8080/octopus/ (any host name: the load balancer's and the node's own). */
export function listenPrefixFor(url: string | undefined): string {
  if (!url) return "http://+:80/";
  const u = new URL(url);
  const port = u.port || (u.protocol === "https:" ? "443" : "80");
  const p = u.pathname.endsWith("/") ? u.pathname : `${u.pathname}/`;
  return `${u.protocol}//+:${port}${p}`;
}

/** Octopus's polling port when none is given: configure --commsListenPort's and Tentacle's --server-comms-port default [V]. */
export const DEFAULT_COMMS_PORT = 10943;

/** The port written in an address, even the scheme's default (new URL() drops ":443"); undefined when none is written. */
function writtenPort(address: string): number | undefined {
  const m = /^[a-z][a-z0-9+.-]*:\/\/(?:[^@/?#]*@)?(?:\[[^\]]*\]|[^/:?#]*)(?::(\d+))?/i.exec(address);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

export interface PollingPort {
  /** The TCP port join configures (--commsListenPort). */
  port: number;
  /** The node's pollingAddress when it is WebSocket polling (wss://): a listener octoha does not configure. */
  webSocket?: string;
}

/** A Tentacle reads an https:// comms address without a port on https's own port, as any URL does [I]. */
export const HTTPS_PORT = 443;

/**
 * The polling port join configures on a node: the port `octoha tentacles` tells polling Tentacles to reach it on.
 * No pollingAddress: 10943 on the node's url host (what `tentacles` prints). An https:// pollingAddress: its port,
 * and without one 443, since `tentacles` passes the address as written and a Tentacle reads it on https's port.
 * A port outside 1-65535 (e.g. :0) is refused (exit 2). A --comms-port that differs would leave every Tentacle
 * polling a port nothing listens on: refused (exit 2), naming both. A wss:// pollingAddress is WebSocket polling,
 * served by a WebSocket listener (configure --commsListenWebSocket, an HTTPS binding), not by --commsListenPort:
 * the caller decides (a join run refuses; --print says to set it up by hand).
 */
export function pollingPortFor(node: string, pollingAddress: string | undefined, commsPort: number | undefined): PollingPort {
  if (pollingAddress !== undefined && /^wss:/i.test(pollingAddress))
    return { port: commsPort ?? DEFAULT_COMMS_PORT, webSocket: pollingAddress };
  const written = pollingAddress === undefined ? undefined : writtenPort(pollingAddress);
  if (written !== undefined && !(written >= 1 && written <= 65535))
    throw new InputError(
      `${node}'s pollingAddress ${pollingAddress} names port ${written}, not a port from 1 to 65535; nothing was changed`,
      {
        code: "JOIN_POLLING_PORT_INVALID",
        node,
        hint: `Set the plan's nodes[].pollingAddress for ${node} to https://<${node} host>:${DEFAULT_COMMS_PORT} (or the port its Tentacles reach it on).`,
      },
    );
  const told = pollingAddress === undefined ? DEFAULT_COMMS_PORT : (written ?? HTTPS_PORT);
  if (commsPort !== undefined && commsPort !== told)
    throw new InputError(
      `--comms-port ${commsPort} differs from the port polling Tentacles are told for ${node} (${told}); nothing was changed`,
      {
        code: "JOIN_COMMS_PORT_MISMATCH",
        node,
        issues: [
          pollingAddress === undefined
            ? `${node} has no pollingAddress in the plan: \`octoha tentacles\` tells Tentacles its url host on port ${DEFAULT_COMMS_PORT}`
            : written === undefined
              ? `${node}'s pollingAddress is ${pollingAddress}, with no port: \`octoha tentacles\` tells Tentacles that address, which they reach on https's port ${HTTPS_PORT}`
              : `${node}'s pollingAddress is ${pollingAddress}: \`octoha tentacles\` tells Tentacles port ${told}`,
        ],
        hint:
          `Drop --comms-port (join then configures ${told}), or set the plan's nodes[].pollingAddress for ${node} to ` +
          `https://<${node} host>:${commsPort} so Tentacles poll the port the node listens on.`,
      },
    );
  return { port: commsPort ?? told };
}
