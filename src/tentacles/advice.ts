/**
 * What a polling Tentacle needs to poll every node of the cluster (reference/octopus.md §5):
 * one `poll-server` per node, the TrustedOctopusServers entries that adds (same Thumbprint and
 * SubscriptionId, one Address per node), and a restart. The API key is never printed: commands
 * refer to the environment variable the plan names.
 */
import { InputError } from "../shared/errors.js";
import type { Plan } from "../plan/schema.js";
import { isPolling, type TrustedServer } from "./config.js";
import type { RedisPollingStatus } from "./redis-probe.js";

const DEFAULT_COMMS_PORT = 10943;

export type Shell = "pwsh" | "sh";

export interface TentacleAdviceOptions {
  shell: Shell;
  /** Tentacle instance name (Tentacle.exe --instance). */
  instance: string;
  /** Tentacle executable; default by shell. */
  tentacleExe?: string;
  /** Entries from the Tentacle's config, when given. */
  trusted?: TrustedServer[];
  /** Pick this thumbprint when the Tentacle trusts several servers. */
  thumbprint?: string;
  redis: RedisPollingStatus;
}

export interface NodePolling {
  node: string;
  /** --server: where poll-server registers (the node's own URL, else the load balancer). */
  server: string;
  /** The address the Tentacle polls. */
  address: string;
  transport: "comms-address" | "web-socket";
  /** Where the address came from. */
  addressFrom: "pollingAddress" | "url";
  argv: string[];
  commandLine: string;
}

export interface TrustedServerChanges {
  thumbprint: string;
  subscriptionId: string;
  add: TrustedServer[];
  /** Nodes whose entry is already there (Thumbprint + Address, case-insensitive). */
  present: { node: string; address: string }[];
  /** Existing entries followed by the new ones: the whole setting value after the change. */
  merged: TrustedServer[];
}

export interface TentacleAdvice {
  /** False when Redis multi-node polling makes per-node registration unnecessary. */
  needed: boolean;
  redis: RedisPollingStatus;
  apiKeyVariable: string;
  nodes: NodePolling[];
  trusted?: TrustedServerChanges;
  restart: { argv: string[]; commandLine: string };
  notes: string[];
}

function pollingAddress(node: Plan["nodes"][number]): { address: string; from: NodePolling["addressFrom"] } | undefined {
  if (node.pollingAddress) return { address: node.pollingAddress.replace(/\/+$/, ""), from: "pollingAddress" };
  if (!node.url) return undefined;
  return { address: `https://${new URL(node.url).hostname}:${DEFAULT_COMMS_PORT}`, from: "url" };
}

function quote(shell: Shell, arg: string): string {
  if (/^[A-Za-z0-9_\-./:=]+$/.test(arg)) return arg;
  return shell === "pwsh" ? `'${arg.replace(/'/g, "''")}'` : `'${arg.replace(/'/g, "'\\''")}'`;
}

function commandLine(shell: Shell, argv: string[], apiKeyArg?: string): string {
  const [exe, ...rest] = argv.map((a) => quote(shell, a));
  const head = shell === "pwsh" && /[\s']/.test(argv[0] ?? "") ? `& ${exe}` : exe;
  return [head, ...rest, ...(apiKeyArg ? [apiKeyArg] : [])].join(" ");
}

export function tentacleAdvice(plan: Plan, options: TentacleAdviceOptions): TentacleAdvice {
  const variable = plan.octopus.apiKey.env;
  const exe =
    options.tentacleExe ??
    (options.shell === "pwsh" ? "C:\\Program Files\\Octopus Deploy\\Tentacle\\Tentacle.exe" : "/opt/octopus/tentacle/Tentacle");
  // The key is referenced, never written: the shell expands it on the Tentacle machine.
  const apiKeyArg = options.shell === "pwsh" ? `--apiKey=$env:${variable}` : `--apiKey="$${variable}"`;
  const restartArgv = [exe, "service", `--instance=${options.instance}`, "--stop", "--start"];
  const restart = { argv: restartArgv, commandLine: commandLine(options.shell, restartArgv) };
  const notes: string[] = [];

  if (options.redis.enabled === true) {
    notes.push(
      "Redis multi-node polling is enabled: polling Tentacles poll the load balancer's address once and every node serves them, so no per-node poll-server registration is needed.",
    );
    if (options.redis.reachable === false)
      notes.push("But the server reports Redis as not reachable: fix that first, or polling Tentacles will not get work from every node.");
    return { needed: false, redis: options.redis, apiKeyVariable: variable, nodes: [], restart, notes };
  }

  const missing = plan.nodes.map((n, i) => ({ n, i })).filter(({ n }) => !pollingAddress(n));
  if (missing.length > 0)
    throw new InputError(`No polling address for ${missing.map(({ n }) => n.name).join(", ")}`, {
      code: "TENTACLE_NO_ADDRESS",
      issues: missing.map(({ i }) => `nodes[${i}].pollingAddress: not set, and nodes[${i}].url is not set either`),
      hint: 'Add "pollingAddress": "https://<node host>:10943" (or "url") to each node in the plan.',
    });

  const nodes = plan.nodes.map((n): NodePolling => {
    const { address, from } = pollingAddress(n)!;
    const transport = address.toLowerCase().startsWith("wss:") ? "web-socket" : "comms-address";
    const server = n.url ?? plan.octopus.serverUrl;
    const argv = [
      exe,
      "poll-server",
      `--instance=${options.instance}`,
      `--server=${server}`,
      transport === "web-socket" ? `--server-web-socket=${address}` : `--server-comms-address=${address}`,
    ];
    return { node: n.name, server, address, transport, addressFrom: from, argv, commandLine: commandLine(options.shell, argv, apiKeyArg) };
  });
  if (options.redis.enabled === undefined)
    notes.push(
      options.redis.note
        ? `Could not tell whether Redis multi-node polling is on (${options.redis.note}); if it is (Octopus 2026.4.6909+), none of this is needed.`
        : "If this cluster uses Redis multi-node polling (Octopus 2026.4.6909+), none of this is needed; `--probe-redis` asks the server.",
    );
  notes.push(
    `poll-server reads the API key from ${variable} in the Tentacle machine's shell; set it there first. It only works for a Tentacle already registered as polling (it reuses its subscription).`,
  );
  return {
    needed: true,
    redis: options.redis,
    apiKeyVariable: variable,
    nodes,
    trusted: options.trusted ? trustedChanges(options.trusted, nodes, options.thumbprint) : undefined,
    restart,
    notes,
  };
}

const sameAddress = (a: string | null | undefined, b: string): boolean => (a ?? "").replace(/\/+$/, "").toLowerCase() === b.toLowerCase();

function trustedChanges(existing: TrustedServer[], nodes: NodePolling[], wanted: string | undefined): TrustedServerChanges {
  const polling = existing.filter((e) => isPolling(e) && e.SubscriptionId);
  const thumbprints = [...new Set(polling.map((e) => e.Thumbprint.trim().toUpperCase()))];
  const candidates = wanted ? thumbprints.filter((t) => t === wanted.trim().toUpperCase()) : thumbprints;
  if (candidates.length !== 1)
    throw new InputError(
      candidates.length === 0
        ? wanted
          ? `The Tentacle does not poll a server with thumbprint ${wanted}`
          : "The Tentacle config has no polling (CommunicationStyle 2) entry with a SubscriptionId"
        : `The Tentacle polls ${candidates.length} servers with different thumbprints (${candidates.join(", ")})`,
      {
        code: "TENTACLE_TRUST_AMBIGUOUS",
        hint:
          candidates.length === 0 && !wanted
            ? "Register the Tentacle as a polling Tentacle with this Octopus first (Tentacle.exe register-with); then run this again."
            : "Pass --thumbprint with this Octopus Server's certificate thumbprint (Configuration ➜ Thumbprint).",
      },
    );
  const thumbprint = candidates[0]!;
  const source = polling.find((e) => e.Thumbprint.trim().toUpperCase() === thumbprint)!;
  const subscriptionId = source.SubscriptionId!;
  const present: TrustedServerChanges["present"] = [];
  const add: TrustedServer[] = [];
  for (const n of nodes) {
    const there = existing.some((e) => e.Thumbprint.trim().toUpperCase() === thumbprint && sameAddress(e.Address, n.address));
    if (there || add.some((e) => sameAddress(e.Address, n.address))) present.push({ node: n.node, address: n.address });
    else
      add.push({
        Thumbprint: source.Thumbprint.trim(),
        CommunicationStyle: 2,
        Address: n.address,
        Squid: source.Squid ?? null,
        SubscriptionId: subscriptionId,
      });
  }
  return { thumbprint, subscriptionId, add, present, merged: [...existing, ...add] };
}
