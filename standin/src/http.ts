/**
 * The stand-in's HTTP face: one listener for the load-balanced URL and one per node, all on
 * 127.0.0.1, answering the documented Octopus REST endpoints (reference/octopus.md §2) from the one
 * simulated cluster. Anything not implemented answers 404 with an ErrorMessage: never a silent wrong
 * answer. A control API under /__standin/ (loopback, its own token) arranges state and faults.
 */
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { answerApi, HttpError, type Answer } from "./api-routes.js";
import { NotFoundError, type Cluster } from "./cluster.js";
import { answerControl } from "./control-routes.js";
import type { Machines } from "./machines.js";
import type { SimNode } from "./model.js";
import { NodePortClaims } from "./node-ports.js";
import { xorshift } from "./prng.js";
import type { ExecutableFaults, ListenerFaults } from "./faults.js";

/** Ports for nodes: below the kernel's ephemeral range (Linux default 32768-60999), from 10000 up. */
export const NODE_PORTS: readonly [number, number] = (() => {
  let ephemeralLow = 32768;
  try {
    ephemeralLow = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]) || ephemeralLow;
  } catch {
    // Not Linux: keep the default range's bound.
  }
  return [Math.min(10_000, ephemeralLow - 1_000), ephemeralLow];
})();

export interface StandinHttpOptions {
  cluster: Cluster;
  /** Administrator API key (AdministerSystem). */
  apiKey: string;
  /** An API key without AdministerSystem (blocked by maintenance mode, cannot change nodes). */
  userApiKey?: string;
  controlToken: string;
  host?: string;
  /** Load-balanced listener port (0 = free port). */
  port?: number;
  /** Extra control handlers (e.g. the TDS faults), by name: POST /__standin/<name>. */
  controlExtensions?: Record<string, (body: Record<string, unknown>) => Promise<unknown> | unknown>;
  /** The simulated machines, served under /__standin/machines. */
  machines?: Machines;
  /** Machines that may join the cluster later: each gets its port now, so its URL is known before it listens. */
  spareHosts?: string[];
}

export interface StandinHttp {
  url: string;
  nodeUrls: Record<string, string>;
  /** The URL each spare machine will answer on once it has joined. */
  spareUrls: Record<string, string>;
  controlUrl: string;
  setFaults(listener: string, faults: ListenerFaults): void;
  /** Resolves once node listeners match the nodes' service state (a stop closes the node's port). */
  settle(): Promise<void>;
  executableFaults: ExecutableFaults;
  /** Requests received on any listener (API, node URLs, control API), counted on arrival: a test can tell a run made no call. */
  requestsReceived(): number;
  close(): Promise<void>;
}

class Listener {
  server: Server | undefined;
  port = 0;
  faults: ListenerFaults = {};
  readonly random = xorshift(12345);
}

export async function startStandinHttp(options: StandinHttpOptions): Promise<StandinHttp> {
  const { cluster } = options;
  const host = options.host ?? "127.0.0.1";
  const lb = new Listener();
  const nodeListeners = new Map<string, Listener>();
  const executableFaults: ExecutableFaults = {};
  let roundRobin = 0;
  const claims = new NodePortClaims();
  let closed = false;
  let requests = 0;

  const pickNode = (): SimNode | undefined => {
    // A starting node fails the load balancer's health check: it gets nothing until it is ready.
    const running = cluster.nodes().filter((n) => cluster.isReady(n.name));
    if (running.length === 0) return undefined;
    return running[roundRobin++ % running.length];
  };

  const listen = (l: Listener, handler: (req: IncomingMessage, res: ServerResponse) => void, port: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const server = createServer(handler);
      server.keepAliveTimeout = 1000;
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        l.server = server;
        l.port = (server.address() as AddressInfo).port;
        resolve();
      });
    });

  /**
   * A node's own port, chosen once and kept across stops and starts, like a real node's fixed port. It
   * comes from below the kernel's ephemeral range: a port from listen(0) is in that range, and while
   * the node was stopped an outgoing connection (any test's) could take it as its local port, so the
   * restart failed with EADDRINUSE. It is claimed for the stand-in's life (node-ports.ts): another
   * stand-in's node, picking its port while this node is stopped, would take it too.
   */
  const listenOnNodePort = async (l: Listener, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<void> => {
    if (l.port) return listen(l, handler, l.port);
    const [low, high] = NODE_PORTS;
    if (high - low < 2_000) return listen(l, handler, 0); // an unusual ephemeral range: take what the kernel gives
    for (let attempt = 0; ; attempt++) {
      const port = low + Math.floor(Math.random() * (high - low));
      if (claims.claim(port)) {
        try {
          return await listen(l, handler, port);
        } catch (error) {
          claims.release(port);
          if ((error as NodeJS.ErrnoException).code !== "EADDRINUSE" || attempt >= 50) throw error;
        }
      } else if (attempt >= 50) throw new Error(`No free node port: 50 picks from ${low}-${high - 1} were all held by other stand-ins.`);
    }
  };

  const closeListener = async (l: Listener): Promise<void> => {
    const server = l.server;
    if (!server) return;
    l.server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  };

  const handle = (l: Listener, fixedNode: string | undefined) => (req: IncomingMessage, res: ServerResponse) => {
    requests += 1;
    void (async () => {
      const url = new URL(req.url ?? "/", "http://standin");
      if (url.pathname.startsWith("/__standin/")) {
        if (fixedNode !== undefined) return send(res, HttpError(404, "The control API is served on the load-balanced URL only."));
        return send(res, await control(req, url.pathname));
      }
      const f = l.faults;
      if (f.latencyMs) await sleep(f.latencyMs);
      if ((f.resetNext ?? 0) > 0 || (f.resetRate && l.random() < f.resetRate)) {
        if (f.resetNext) f.resetNext--;
        req.socket.destroy();
        return;
      }
      if ((f.failNext ?? 0) > 0 || (f.errorRate && l.random() < f.errorRate)) {
        if (f.failNext) f.failNext--;
        return send(res, HttpError(f.errorStatus ?? 503, "Injected fault: the server is temporarily unavailable."));
      }
      const node = fixedNode !== undefined ? cluster.nodes().find((n) => n.name === fixedNode) : pickNode();
      if (!node || !node.running) return send(res, HttpError(503, "No Octopus Server node is available behind the load balancer."));
      if (!cluster.isReady(node.name))
        return send(res, HttpError(503, `Octopus Server node ${node.name} is starting up; try again in a moment.`));
      res.setHeader("Octopus-Node", node.name);
      const body = req.method === "PUT" || req.method === "POST" ? await readJson(req) : {};
      // Each node answers from the database its own process uses (they differ in a split cluster).
      send(
        res,
        cluster.withDatabaseOf(node.name, (view) =>
          answerApi({ ...options, cluster: view }, req.method ?? "GET", req.headers, url, view.node(node.name), body),
        ),
      );
    })().catch((error: unknown) => {
      if (!res.headersSent) send(res, HttpError(500, error instanceof Error ? error.message : String(error)));
    });
  };

  const control = async (req: IncomingMessage, pathname: string): Promise<Answer> => {
    const remote = req.socket.remoteAddress ?? "";
    if (!["127.0.0.1", "::1", "::ffff:127.0.0.1"].includes(remote)) return HttpError(403, "The control API answers loopback callers only.");
    if (req.headers["x-standin-token"] !== options.controlToken) return HttpError(401, "The control API needs the X-Standin-Token header.");
    const body = req.method === "POST" ? ((await readJson(req)) ?? {}) : {};
    return answerControl(
      {
        cluster,
        setFaults,
        executableFaults,
        settle: () => syncNodeListeners(),
        extensions: options.controlExtensions,
        machines: options.machines,
      },
      req.method ?? "GET",
      pathname,
      body,
    );
  };

  const setFaults = (target: string, faults: ListenerFaults): void => {
    const l = target === "lb" ? lb : nodeListeners.get(cluster.node(target).name);
    if (!l) throw new NotFoundError(`no listener '${target}'`);
    l.faults = { ...faults };
  };

  /** Stopped nodes refuse connections on their own port; a started node listens on it again. */
  let syncing: Promise<void> = Promise.resolve();
  const syncNodeListeners = (): Promise<void> => {
    // A failed re-listen (port taken meanwhile) must not wedge later syncs.
    syncing = syncing
      .catch(() => undefined)
      .then(async () => {
        for (const node of cluster.nodes()) {
          const l = nodeListeners.get(node.name) ?? nodeListeners.get(spareKey(node.name)) ?? new Listener();
          nodeListeners.set(node.name, l);
          if (!node.running && l.server) await closeListener(l);
          if (node.running && !l.server && !closed) await listenOnNodePort(l, handle(l, node.name));
        }
      });
    return syncing;
  };

  try {
    await listen(lb, handle(lb, undefined), options.port ?? 0);
    for (const node of cluster.nodes()) {
      const l = new Listener();
      nodeListeners.set(node.name, l);
      if (node.running) await listenOnNodePort(l, handle(l, node.name));
    }
    // A port taken now and let go (still claimed): the spare machine listens on it once it has joined (nothing answers before).
    for (const host of options.spareHosts ?? []) {
      const l = new Listener();
      await listenOnNodePort(l, (_req, res) => res.end());
      await closeListener(l);
      nodeListeners.set(spareKey(host), l);
    }
  } catch (error) {
    for (const l of [lb, ...nodeListeners.values()]) await closeListener(l);
    claims.releaseAll();
    throw error;
  }
  const unsubscribe = cluster.onChange(() => void syncNodeListeners().catch(() => undefined));

  const base = (port: number) => `http://${host}:${port}`;
  return {
    url: base(lb.port),
    nodeUrls: Object.fromEntries([...nodeListeners].flatMap(([name, l]) => (name.startsWith("spare:") ? [] : [[name, base(l.port)]]))),
    spareUrls: Object.fromEntries((options.spareHosts ?? []).map((h) => [h, base(nodeListeners.get(spareKey(h))!.port)])),
    controlUrl: `${base(lb.port)}/__standin`,
    setFaults,
    settle: () => syncNodeListeners(),
    executableFaults,
    requestsReceived: () => requests,
    async close() {
      closed = true;
      unsubscribe();
      await syncing.catch(() => undefined);
      await closeListener(lb);
      for (const l of nodeListeners.values()) await closeListener(l);
      claims.releaseAll();
    },
  };
}

const spareKey = (host: string) => `spare:${host}`;

function send(res: ServerResponse, answer: Answer): void {
  if (res.headersSent || res.destroyed) return;
  const payload = answer.text ? String(answer.body) : JSON.stringify(answer.body);
  res.writeHead(answer.status, {
    "Content-Type": answer.text ? "text/plain; charset=utf-8" : "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(payload),
  });
  res.end(payload);
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown> | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > 1_000_000) return undefined;
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString("utf8").trim();
  if (text === "") return {};
  try {
    const v: unknown = JSON.parse(text);
    return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
