/**
 * `octoha join NODE --print`: the commands that add NODE to the cluster, to paste on the new node,
 * after the read-only checks octoha can make from here (the name is free; the cluster's version).
 * It changes nothing anywhere and prints no secret.
 */
import { loadPlan } from "../plan/load.js";
import { describeMissing, missingFix, resolveSecrets } from "../plan/secrets.js";
import type { Plan } from "../plan/schema.js";
import { isHttpUrl } from "../plan/validate.js";
import { createRestPorts } from "../octopus/rest/index.js";
import type { ServerNodes, VersionProbe } from "../octopus/types.js";
import { InputError } from "../shared/errors.js";
import { labelProblem, LABEL_RULE } from "../shared/names.js";
import {
  JOIN_FACTS,
  JOIN_SOURCES,
  joinCommands,
  listenPrefixFor,
  pollingPortFor,
  DEFAULT_COMMS_PORT,
  type JoinCommand,
  type JoinPlatform,
  type PollingPort,
} from "./commands.js";
import { shellWord } from "../shared/shell-word.js";
export const DEFAULT_MASTER_KEY_ENV = "OCTOPUS_MASTER_KEY";

export interface JoinPrintOptions {
  planFile: string;
  node: string;
  platform?: JoinPlatform;
  /** The new node's own URL (default: the plan's node of that name, if any). */
  url?: string;
  commsPort?: number;
  home?: string;
  config?: string;
  serverExe?: string;
  masterKeyEnv?: string;
  /** Default: the variable the plan names for its SQL connection string. */
  connectionStringEnv?: string;
  /** Skip the checks that reach Octopus. */
  offline?: boolean;
  env: Readonly<Record<string, string | undefined>>;
  /** For tests: ports instead of REST. */
  ports?: { nodes: ServerNodes; version: VersionProbe };
}

export interface JoinPrint {
  node: string;
  platform: JoinPlatform;
  serverUrl: string;
  /** What the read-only checks found; undefined when --offline. */
  cluster?: { version: string; nodes: string[] };
  masterKeyEnv: string;
  connectionStringEnv: string;
  /** First line to run: stops before anything changes when a variable is unset (and, in bash, at the first failing command). */
  guard: string;
  commands: JoinCommand[];
  before: string[];
  after: string[];
  facts: typeof JOIN_FACTS;
  sources: typeof JOIN_SOURCES;
}

function checkName(node: string): void {
  const problem = labelProblem(node);
  if (problem)
    throw new InputError(`The node name '${node}' ${problem}`, {
      code: "JOIN_NODE_NAME_INVALID",
      hint: `A node name must be ${LABEL_RULE} (octoha names folders after nodes).`,
    });
}

/** --url becomes the node's listen prefix and its ping address: both are HTTP. */
function checkUrl(url: string | undefined): void {
  if (url !== undefined && !isHttpUrl(url))
    throw new InputError(`--url ${url}: not an http(s) URL; only http:// or https:// node URLs are accepted, nothing was printed`, {
      code: "JOIN_URL_INVALID",
      hint: "Pass the new node's own web address, bypassing the load balancer, e.g. --url http://octo3.corp:80/ or https://octo3.corp/.",
    });
}

async function readCluster(plan: Plan, o: JoinPrintOptions): Promise<{ version: string; nodes: string[] }> {
  let ports = o.ports;
  if (!ports) {
    const secrets = resolveSecrets(plan, o.env);
    const missing = secrets.missing.find((m) => m.path === "octopus.apiKey");
    if (missing || !secrets.apiKey)
      throw new InputError(`${missing ? describeMissing(missing) : "no API key"}: needed to check that ${o.node} is not taken`, {
        code: "ENV_UNSET",
        hint: `${missing ? missingFix(missing) : ""}\nOr pass --offline to print the commands without checking the cluster.`,
      });
    ports = createRestPorts({ serverUrl: plan.octopus.serverUrl, apiKey: secrets.apiKey });
  }
  const [nodes, version] = await Promise.all([ports.nodes.list(), ports.version.serverVersion()]);
  const taken = nodes.find((n) => n.name.toLowerCase() === o.node.toLowerCase());
  if (taken)
    throw new InputError(
      `The node name ${o.node} is taken: the cluster already has a node ${taken.name} (${taken.id}); nothing was printed`,
      {
        code: "JOIN_NODE_NAME_TAKEN",
        issues: [`nodes now: ${nodes.map((n) => n.name).join(", ")}`],
        hint:
          `If ${taken.name} is the machine you meant to join, it has joined already: there is nothing to run. ` +
          "Otherwise choose another name for the new node; if it replaces a retired node of that name, delete that node first " +
          "(Configuration > Nodes, or DELETE /api/octopusservernodes/{id}) once it is stopped for good.",
      },
    );
  return { version, nodes: nodes.map((n) => n.name) };
}

export async function joinPrint(o: JoinPrintOptions): Promise<JoinPrint> {
  checkName(o.node);
  checkUrl(o.url);
  const { plan } = await loadPlan(o.planFile);
  const platform = o.platform ?? plan.octopus.platform;
  const inPlan = plan.nodes.find((n) => n.name.toLowerCase() === o.node.toLowerCase());
  const url = o.url ?? inPlan?.url;
  // A node not in the plan yet: the printed "after" says which pollingAddress to give it.
  const polling: PollingPort = inPlan
    ? pollingPortFor(o.node, inPlan.pollingAddress, o.commsPort)
    : { port: o.commsPort ?? DEFAULT_COMMS_PORT };
  const masterKeyEnv = o.masterKeyEnv ?? DEFAULT_MASTER_KEY_ENV;
  const connectionStringEnv = o.connectionStringEnv ?? plan.octopus.sql.connectionString.env;
  const cluster = o.offline ? undefined : await readCluster(plan, o);
  const commands = joinCommands(plan, {
    node: o.node,
    platform,
    instance: plan.octopus.instance,
    serverExe: o.serverExe,
    home: o.home,
    config: o.config,
    listenPrefixes: [listenPrefixFor(url)],
    commsPort: polling.port,
    masterKeyEnv,
    connectionStringEnv,
  });
  const set = (name: string) => (platform === "windows" ? `$env:${name} = '…'` : `export ${name}='…'`);
  const shared = [plan.shared.clusterShared, plan.shared.taskLogs, plan.shared.artifacts, plan.shared.packages]
    .flatMap((l) => (l ? [l.octopus] : []))
    .join(", ");
  const before = [
    cluster
      ? `Install Octopus Server ${cluster.version} on ${o.node}, exactly that version: every node of a cluster runs the same version.`
      : `Install on ${o.node} the Octopus Server version the other nodes run, exactly (not checked: --offline).`,
    `Confirm the master key is backed up (Octopus cannot decrypt its data without it), then set it in this shell on ${o.node}: ` +
      `${set(masterKeyEnv)}. Read it on an existing node with: Octopus.Server.exe show-master-key --instance ${plan.octopus.instance}.`,
    `Set ${set(connectionStringEnv)} to the connection string the other nodes use (it must be allowed to use the Octopus database, ` +
      "not only read it); pass --connection-string-env to name another variable.",
    `The account the service runs as must read and write the shared folders from ${o.node}: ${shared}.`,
  ];
  const ping = url
    ? `GET ${new URL("api/octopusservernodes/ping", url.endsWith("/") ? url : `${url}/`).href}`
    : "GET <its own URL>/api/octopusservernodes/ping";
  const after = [
    `${o.node} appears in Configuration > Nodes and its ping answers 200: ${ping}.`,
    `Add ${o.node} with its url to the plan's nodes, then: octoha lb ${shellWord(o.planFile)} --format … (load balancer) and octoha tentacles ${shellWord(o.planFile)} (polling Tentacles).`,
  ];
  if (polling.webSocket)
    before.push(
      `${o.node}'s pollingAddress is ${polling.webSocket} (WebSocket polling): these commands set up TCP polling only (--commsListenPort ${polling.port}). ` +
        'Add the WebSocket listener by hand as Octopus\'s "Polling Tentacles over WebSockets" guide says (configure --commsListenWebSocket and the certificate binding); octoha does not write it.',
    );
  if (!inPlan && polling.port !== DEFAULT_COMMS_PORT)
    after.push(
      `Give ${o.node} "pollingAddress": "https://<${o.node} host>:${polling.port}" in the plan: octoha tentacles assumes ${DEFAULT_COMMS_PORT} otherwise.`,
    );
  if (platform === "linux")
    before.push(
      "Octopus Server on Linux is documented as a container: there, give the new container DB_CONNECTION_STRING, MASTER_KEY and " +
        `OCTOPUS_SERVER_NODE_NAME=${o.node} (and the shared volumes) instead of these commands.`,
    );
  const vars = [masterKeyEnv, connectionStringEnv];
  // Unset, the variable would expand to nothing and the next option would be taken as its value.
  const guard =
    platform === "windows"
      ? `foreach ($v in ${vars.map((v) => `'${v}'`).join(", ")}) { if (-not [Environment]::GetEnvironmentVariable($v)) { throw "Set $v first; nothing was changed." } }`
      : `set -eu; : ${vars.map((v) => `"\${${v}:?set ${v} first; nothing was changed}"`).join(" ")}`;
  return {
    node: o.node,
    platform,
    guard,
    serverUrl: plan.octopus.serverUrl,
    cluster,
    masterKeyEnv,
    connectionStringEnv,
    commands,
    before,
    after,
    facts: JOIN_FACTS,
    sources: JOIN_SOURCES,
  };
}

export function renderJoinPrint(p: JoinPrint): string {
  const lines = [
    `# Add node ${p.node} to the Octopus cluster at ${p.serverUrl} (${p.platform === "windows" ? "PowerShell" : "bash"}). Printed by octoha join --print; nothing was changed.`,
    p.cluster
      ? `# Checked now (read-only): the name ${p.node} is free (nodes: ${p.cluster.nodes.join(", ")}); the cluster runs Octopus ${p.cluster.version}.`
      : "# Not checked (--offline): whether the name is free, and the cluster's version.",
    "# The master key and the connection string are never written here: the commands read environment variables.",
    "#",
    `# Before you start, on ${p.node}:`,
    ...p.before.map((b, i) => `#  ${i + 1}. ${b}`),
    "",
  ];
  lines.push("# 0. Stop here if a variable is not set:", p.guard, "");
  // PowerShell does not stop on a failing native command by itself.
  const stop = (c: JoinCommand) => (p.platform === "windows" ? `; if ($LASTEXITCODE -ne 0) { throw '${c.step} failed' }` : "");
  p.commands.forEach((c, i) => {
    lines.push(`# ${i + 1}. ${c.step}: ${c.why}`, c.optional ? `# ${c.commandLine}` : `${c.commandLine}${stop(c)}`, "");
  });
  lines.push("# After:", ...p.after.map((a) => `#  - ${a}`), "#", "# Option names:");
  for (const f of p.facts) lines.push(`#  ${f.conf.padEnd(8)}  ${f.fact}  (${f.source})`);
  for (const [k, v] of Object.entries(p.sources)) lines.push(`#  ${k} = ${v}`);
  return `${lines.join("\n")}\n`;
}
