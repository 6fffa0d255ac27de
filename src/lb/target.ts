/**
 * What a load balancer in front of the plan's nodes needs to know: the frontend (the plan's
 * load-balanced serverUrl) and one backend per node (the node's own `url`). Everything a generated
 * configuration says about the cluster comes from here; nothing here is a secret (plans hold only
 * env references, and no generator reads them).
 */
import { InputError } from "../shared/errors.js";
import type { Plan } from "../plan/schema.js";
import { checkHost, checkListenAddress } from "./quote.js";

export const PING_PATH = "api/octopusservernodes/ping";

export interface LbBackend {
  /** The node's name as Octopus knows it. */
  node: string;
  /** An identifier safe in every generator's syntax (letters, digits, `-`, `_`, `.`). */
  id: string;
  scheme: "http" | "https";
  /** As in a URL (URL.hostname): an IPv6 address keeps its brackets ("[::1]"), which HAProxy and nginx both expect. */
  host: string;
  port: number;
  /** The node's URL as the plan gives it. */
  url: string;
  /** Taken out by the operator (--down): gets no traffic whatever its health. */
  down: boolean;
}

export interface HealthCheck {
  /** Milliseconds between two checks of one node. */
  intervalMs: number;
  /** Consecutive failed checks that take a node out. */
  fall: number;
  /** Consecutive good checks that put it back. */
  rise: number;
  /** How long one check may take. */
  timeoutMs: number;
}

export interface LbTarget {
  /** The load-balanced URL clients use (plan octopus.serverUrl). */
  serverUrl: string;
  /** Its host (with the port when not the scheme's default): the Host header of checks. */
  hostHeader: string;
  hostname: string;
  /** TLS is terminated at the load balancer when serverUrl is https. */
  tls: boolean;
  /** Where the frontend listens, "address:port" ("*:443" style). */
  bind: string;
  /** The nodes' common base path ("/" or "/octopus/"): the ping is under it. */
  basePath: string;
  pingPath: string;
  backends: LbBackend[];
  check: HealthCheck;
}

export interface TargetOptions {
  bind?: string;
  /** Node names to mark down (any case). */
  down?: string[];
  /** Every node may be marked down (the frontend then sends traffic nowhere). */
  allowAllDown?: boolean;
  check?: Partial<HealthCheck>;
}

/** Defaults: a node leaves the pool within about interval × fall (10 s) and returns after rise good checks. */
export const DEFAULT_CHECK: Omit<HealthCheck, "timeoutMs"> = { intervalMs: 5000, fall: 2, rise: 2 };

const defaultPort = (scheme: string): number => (scheme === "https:" ? 443 : 80);

function identifier(name: string, taken: Set<string>): string {
  const base = name.replace(/[^A-Za-z0-9_.-]/g, "_").replace(/^[^A-Za-z0-9]+/, "") || "node";
  let id = base;
  for (let i = 2; taken.has(id.toLowerCase()); i++) id = `${base}_${i}`;
  taken.add(id.toLowerCase());
  return id;
}

const withSlash = (p: string): string => (p.endsWith("/") ? p : `${p}/`);

/** The plan's nodes as load-balancer backends, or exit 2 naming every node that cannot be one. */
export function lbTarget(plan: Plan, options: TargetOptions = {}): LbTarget {
  const server = new URL(plan.octopus.serverUrl);
  const issues: string[] = [];
  plan.nodes.forEach((n, i) => {
    if (!n.url) issues.push(`nodes[${i}].url (${n.name}): not set; the load balancer sends requests and health checks to it`);
  });
  if (issues.length > 0)
    throw new InputError(`Every node needs its own url for a load balancer configuration; ${issues.length} do not:`, {
      code: "LB_NODE_URL_MISSING",
      issues,
      hint: 'Add "url": "http://<node host>:<port>/" (the node\'s own address, not the load balancer\'s) to each node in the plan.',
    });
  const taken = new Set<string>();
  const urls = plan.nodes.map((n) => ({ node: n.name, url: new URL(n.url!) }));
  // Written bare into every format: a host name a URL parser lets through may not be one a config can hold.
  checkHost(server.hostname, "octopus.serverUrl's host");
  urls.forEach((u, i) => checkHost(u.url.hostname, `nodes[${i}].url's host (${u.node})`));
  const schemes = new Set(urls.map((u) => u.url.protocol));
  const paths = new Set(urls.map((u) => withSlash(u.url.pathname)));
  if (schemes.size > 1 || paths.size > 1)
    throw new InputError(
      "The nodes' urls must share one scheme and one path: a load balancer sends every request to every node unchanged",
      {
        code: "LB_NODE_URLS_DIFFER",
        issues: urls.map((u) => `${u.node}: ${u.url.href}`),
        hint: "Give every node the same listen prefix (e.g. http://+:80/ on each) and write each node's url with it.",
      },
    );
  // Every format forwards a request's path unchanged. Rewriting it is not enough: Octopus writes the links
  // and redirects it answers with under its own path (its listen prefix), which clients then follow.
  const nodePath = [...paths][0] ?? "/";
  const serverPath = withSlash(server.pathname);
  if (serverPath.toLowerCase() !== nodePath.toLowerCase())
    throw new InputError(
      `The plan's serverUrl path ${serverPath} is not the nodes' url path ${nodePath}: the load balancer forwards every request's path unchanged, so requests for ${serverPath}api/… would reach the nodes where nothing listens (404) while the health checks on ${nodePath}${PING_PATH} pass`,
      {
        code: "LB_SERVER_PATH_DIFFERS",
        issues: [`octopus.serverUrl: ${plan.octopus.serverUrl}`, ...urls.map((u) => `${u.node}: ${u.url.href}`)],
        hint:
          `Make the two paths one: serverUrl ${new URL(nodePath, server).href} (clients use the nodes' path), or give every node ` +
          `the listen prefix http://+:PORT${serverPath} (octoha join --print shows the configure command) and that path in its url. ` +
          "A rewriting proxy is not generated: Octopus answers with links and redirects under its own path, which a rewrite of requests would not fix.",
      },
    );
  const unknown = (options.down ?? []).filter((d) => !plan.nodes.some((n) => n.name.toLowerCase() === d.toLowerCase()));
  if (unknown.length > 0)
    throw new InputError(`--down ${unknown.join(", ")}: not a node of the plan`, {
      code: "LB_DOWN_UNKNOWN_NODE",
      issues: [`the plan's nodes: ${plan.nodes.map((n) => n.name).join(", ")}`],
      hint: "Name a node as the plan spells it (any case).",
    });
  const down = new Set((options.down ?? []).map((d) => d.toLowerCase()));
  if (!options.allowAllDown && plan.nodes.every((n) => down.has(n.name.toLowerCase())))
    throw new InputError(
      `--down ${plan.nodes.map((n) => n.name).join(", ")}: that is every node of the plan, so the load balancer would send every request nowhere (503 / 502 to every client); nothing was written`,
      {
        code: "LB_ALL_NODES_DOWN",
        hint: "Leave at least one node in the pool (drop one --down). To take the whole cluster out on purpose, pass --allow-all-down as well.",
      },
    );
  const basePath = nodePath;
  const backends = urls.map(({ node, url }): LbBackend => ({
    node,
    id: identifier(node, taken),
    scheme: url.protocol === "https:" ? "https" : "http",
    host: url.hostname,
    port: url.port ? Number(url.port) : defaultPort(url.protocol),
    url: url.href,
    down: down.has(node.toLowerCase()),
  }));
  const tls = server.protocol === "https:";
  const interval = options.check?.intervalMs ?? DEFAULT_CHECK.intervalMs;
  return {
    serverUrl: plan.octopus.serverUrl,
    hostHeader: server.host,
    hostname: server.hostname,
    tls,
    bind: options.bind ?? `*:${server.port || defaultPort(server.protocol)}`,
    basePath,
    pingPath: `${basePath}${PING_PATH}`,
    backends,
    check: {
      intervalMs: interval,
      fall: options.check?.fall ?? DEFAULT_CHECK.fall,
      rise: options.check?.rise ?? DEFAULT_CHECK.rise,
      // A check never outlives the next one.
      timeoutMs: options.check?.timeoutMs ?? Math.min(5000, interval),
    },
  };
}

/** "address:port" split; "*" or "" means every address. `option` names where it came from (--bind, --stats). */
export function splitBind(bind: string, option = "--bind"): { address: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(bind);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port < 1 || port > 65535)
    throw new InputError(`${option} ${bind}: expected ADDRESS:PORT (e.g. *:443, 0.0.0.0:80, 127.0.0.1:8080)`, { code: "LB_BIND_INVALID" });
  const address = m[1] ?? m[2] ?? "*";
  checkListenAddress(address, option, bind);
  return { address, port };
}
