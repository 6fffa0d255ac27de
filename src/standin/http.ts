/**
 * The stand-in's HTTP face: one listener for the load-balanced URL and one per node, all on
 * 127.0.0.1, answering the documented Octopus REST endpoints (reference/octopus.md §2) from the one
 * simulated cluster. Anything not implemented answers 404 with an ErrorMessage: never a silent wrong
 * answer. A control API under /__standin/ (loopback, its own token) arranges state and faults.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { compareVersions } from "../octopus/versions.js";
import { Cluster, MaintenanceModeError, NotFoundError, TaskLogMissingError } from "./cluster.js";
import { xorshift } from "./prng.js";
import type { SimFolders, SimNode } from "./model.js";
import { ACTIVE_STATES, collection, maintenanceResource, nodeResource, nodeSummaryItem, rootDocument, taskResource } from "./resources.js";

/** Misbehaviour of one listener ("lb" or a node name). Counts are deterministic; rates use a seeded PRNG. */
export interface ListenerFaults {
  /** Answer the next N requests with errorStatus. */
  failNext?: number;
  /** Fraction (0..1) of requests answered with errorStatus. */
  errorRate?: number;
  /** 5xx status to answer with (default 503). */
  errorStatus?: number;
  /** Delay before every answer. */
  latencyMs?: number;
  /** Destroy the socket of the next N requests without answering. */
  resetNext?: number;
  /** Fraction (0..1) of requests whose socket is destroyed. */
  resetRate?: number;
}

/** Faults of the octopus-server executable, read by it through the control API. */
export interface ExecutableFaults {
  /** `path` exits non-zero without changing anything. */
  failPath?: boolean;
}

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
}

export interface StandinHttp {
  url: string;
  nodeUrls: Record<string, string>;
  controlUrl: string;
  setFaults(listener: string, faults: ListenerFaults): void;
  /** Resolves once node listeners match the nodes' service state (a stop closes the node's port). */
  settle(): Promise<void>;
  executableFaults: ExecutableFaults;
  close(): Promise<void>;
}

interface Answer {
  status: number;
  body: unknown;
  text?: boolean;
}

const HttpError = (status: number, message: string): Answer => ({ status, body: { ErrorMessage: message, Errors: [] } });

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
  let closed = false;

  const pickNode = (): SimNode | undefined => {
    const running = cluster.nodes().filter((n) => n.running);
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
    void (async () => {
      const url = new URL(req.url ?? "/", "http://standin");
      if (url.pathname.startsWith("/__standin/")) {
        if (fixedNode !== undefined) return send(res, HttpError(404, "The control API is served on the load-balanced URL only."));
        return send(res, await control(req, url));
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
      res.setHeader("Octopus-Node", node.name);
      const body = req.method === "PUT" || req.method === "POST" ? await readJson(req) : {};
      send(res, api(req, url, node, body));
    })().catch((error: unknown) => {
      if (!res.headersSent) send(res, HttpError(500, error instanceof Error ? error.message : String(error)));
    });
  };

  const authorize = (req: IncomingMessage): "administrator" | "user" | undefined => {
    const key = req.headers["x-octopus-apikey"];
    if (key === options.apiKey) return "administrator";
    if (options.userApiKey && key === options.userApiKey) return "user";
    return undefined;
  };

  // ---- the Octopus API -------------------------------------------------------------------------

  const api = (req: IncomingMessage, url: URL, node: SimNode, body: Record<string, unknown> | undefined): Answer => {
    const method = req.method ?? "GET";
    const p = url.pathname.replace(/\/+$/, "") || "/";
    const q = url.searchParams;
    // Anonymous endpoints: the root document, the node ping (load balancers call it), Redis status.
    if (p === "/api" && method === "GET") return { status: 200, body: rootDocument(cluster) };
    if (p === "/api/octopusservernodes/ping" && method === "GET") return { status: node.isDraining ? 418 : 200, body: nodeResource(cluster, node) };
    if (p === "/api/serverstatus/redis" && method === "GET") {
      if (compareVersions(cluster.version, "2026.4.6909") < 0) return notFound(p);
      return { status: 200, body: { IsEnabled: false, IsConfigured: false, IsReachable: false } };
    }
    const who = authorize(req);
    if (!who) return HttpError(401, "You must be logged in to perform this action. Please provide a valid API key or log in again.");
    if (body === undefined) return HttpError(400, "The request body is not valid JSON.");
    const needsAdmin = (): Answer | undefined =>
      who === "administrator" ? undefined : HttpError(403, "You do not have permission to perform this action. Please contact your Octopus administrator. Missing permission: AdministerSystem");
    try {
      if (p === "/api/maintenanceconfiguration") {
        if (method === "GET") return { status: 200, body: maintenanceResource(cluster) };
        if (method === "PUT") {
          const denied = needsAdmin();
          if (denied) return denied;
          if (typeof body.IsInMaintenanceMode !== "boolean") return HttpError(400, "IsInMaintenanceMode must be true or false.");
          cluster.setMaintenanceMode(body.IsInMaintenanceMode);
          return { status: 200, body: maintenanceResource(cluster) };
        }
      }
      if (p === "/api/serverstatus" && method === "GET") {
        return { status: 200, body: { IsDatabaseEncrypted: true, IsMajorMinorUpgrade: false, IsInMaintenanceMode: cluster.isInMaintenanceMode, IsUpgradeAvailable: false, MaintenanceExpires: "2027-01-01T00:00:00.000Z", MaximumAvailableVersion: cluster.version, MaximumAvailableVersionCoveredByLicense: cluster.version, Links: { Self: "/api/serverstatus", Health: "/api/serverstatus/health" } } };
      }
      if (p === "/api/serverstatus/health" && method === "GET") {
        const nodes = cluster.nodes();
        const allDraining = nodes.every((n) => n.isDraining);
        return {
          status: 200,
          body: {
            IsOperatingNormally: !cluster.isInMaintenanceMode && !allDraining,
            Description: cluster.isInMaintenanceMode ? "The server is in maintenance mode." : allDraining ? "Every node is draining tasks." : "Operating normally.",
            IsEntireClusterReadOnly: cluster.isInMaintenanceMode,
            IsEntireClusterDrainingTasks: allDraining,
            IsCompliantWithLicense: true,
          },
        };
      }
      if (p.startsWith("/api/octopusservernodes")) return nodesApi(method, p, q, body, needsAdmin);
      if (p === "/api/spaces" && method === "GET" && compareVersions(cluster.version, "2019.1") >= 0) {
        // One space: enough for clients that resolve a space name (Spaces came in 2019.1).
        const { skip, take } = paging(q);
        const partial = q.get("partialName")?.toLowerCase() ?? "";
        const items = [{ Id: "Spaces-1", Name: "Default", Slug: "default", IsDefault: true, TaskQueueStopped: false, Links: { Self: "/api/spaces/Spaces-1" } }].filter((x) => x.Name.toLowerCase().includes(partial));
        return { status: 200, body: collection("Space", items, skip, take, "/api/spaces") };
      }
      const spaceScoped = /^\/api\/(Spaces-\d+)(\/tasks.*)$/i.exec(p);
      if (spaceScoped) return tasksApi(method, `/api${spaceScoped[2]}`, q, body, node, who, spaceScoped[1]);
      if (p.startsWith("/api/tasks")) return tasksApi(method, p, q, body, node, who, undefined);
      return notFound(p);
    } catch (error) {
      if (error instanceof NotFoundError) return HttpError(404, error.message);
      if (error instanceof MaintenanceModeError) return HttpError(error.status, error.message);
      if (error instanceof TaskLogMissingError) return HttpError(500, `An error occurred reading the log file: ${error.message}`);
      if (error instanceof RangeError) return HttpError(400, error.message);
      throw error;
    }
  };

  const nodesApi = (method: string, p: string, q: URLSearchParams, body: Record<string, unknown>, needsAdmin: () => Answer | undefined): Answer => {
    const all = cluster.nodes();
    if (p === "/api/octopusservernodes" && method === "GET") {
      const { skip, take } = paging(q);
      const ids = q.get("ids")?.split(",").filter(Boolean);
      const partial = q.get("partialName")?.toLowerCase();
      const items = all.filter((n) => (!ids || ids.includes(n.id)) && (!partial || n.name.toLowerCase().includes(partial))).map((n) => nodeResource(cluster, n));
      return { status: 200, body: collection("OctopusServerNode", items, skip, take, "/api/octopusservernodes") };
    }
    if (p === "/api/octopusservernodes/all" && method === "GET") return { status: 200, body: all.map((n) => nodeResource(cluster, n)) };
    if (p === "/api/octopusservernodes/summary" && method === "GET") {
      // Added in 2019 (reference §2.3): older servers answer 404, as they would.
      if (compareVersions(cluster.version, "2019.1") < 0) return notFound(p);
      return { status: 200, body: { Nodes: all.map((n) => nodeSummaryItem(cluster, n)), Links: { Self: "/api/octopusservernodes/summary" } } };
    }
    const m = /^\/api\/octopusservernodes\/([^/]+)(\/details)?$/.exec(p);
    if (m) {
      const node = cluster.node(decodeURIComponent(m[1]!));
      if (m[2] && method === "GET") return { status: 200, body: { RunningTasks: cluster.runningTaskCount(node.name) } };
      if (!m[2] && method === "GET") return { status: 200, body: nodeResource(cluster, node) };
      if (!m[2] && method === "PUT") {
        const denied = needsAdmin();
        if (denied) return denied;
        const change: { isDraining?: boolean; maxConcurrentTasks?: number } = {};
        if (body.IsInMaintenanceMode !== undefined) {
          if (typeof body.IsInMaintenanceMode !== "boolean") return HttpError(400, "IsInMaintenanceMode must be true or false.");
          change.isDraining = body.IsInMaintenanceMode;
        }
        if (body.MaxConcurrentTasks !== undefined) {
          if (typeof body.MaxConcurrentTasks !== "number") return HttpError(400, "MaxConcurrentTasks must be a number.");
          change.maxConcurrentTasks = body.MaxConcurrentTasks;
        }
        return { status: 200, body: nodeResource(cluster, cluster.updateNode(node.id, change)) };
      }
    }
    return notFound(p);
  };

  const tasksApi = (method: string, p: string, q: URLSearchParams, body: Record<string, unknown>, node: SimNode, who: "administrator" | "user", space: string | undefined): Answer => {
    if (p === "/api/tasks" && method === "GET") {
      const { skip, take } = paging(q);
      const states = q.get("states")?.split(",").filter(Boolean);
      const active = q.get("active") === "true";
      const nodeFilter = q.get("node");
      const spaces = space ? [space] : q.get("spaces")?.split(",").filter(Boolean);
      const includeSystem = !space && q.get("includeSystem") === "true";
      const ids = q.get("ids")?.split(",").filter(Boolean);
      const name = q.get("name");
      const nodeMatch = nodeFilter ? cluster.nodes().find((n) => n.name.toLowerCase() === nodeFilter.toLowerCase() || n.id === nodeFilter) : undefined;
      const items = cluster
        .tasks()
        .filter((t) => (t.isSystem ? includeSystem : !spaces || spaces.includes(t.spaceId)))
        .filter((t) => !active || ACTIVE_STATES.includes(t.state))
        .filter((t) => !states || states.includes(t.state))
        .filter((t) => !nodeFilter || (nodeMatch !== undefined && t.serverNode === nodeMatch.name))
        .filter((t) => !ids || ids.includes(t.id))
        .filter((t) => !name || t.name === name)
        .reverse() // newest first, as Octopus lists them
        .map((t) => taskResource(cluster, t));
      const counts: Record<string, number> = {};
      for (const t of items) counts[String(t.State)] = (counts[String(t.State)] ?? 0) + 1;
      return { status: 200, body: { ...collection("Task", items, skip, take, space ? `/api/${space}/tasks` : "/api/tasks"), TotalCounts: counts } };
    }
    if (p === "/api/tasks" && method === "POST") {
      const task = cluster.queueTask({
        name: typeof body.Name === "string" ? body.Name : undefined,
        description: typeof body.Description === "string" ? body.Description : undefined,
        spaceId: space ?? (typeof body.SpaceId === "string" ? body.SpaceId : undefined),
        requestedBy: who,
      });
      return { status: 201, body: taskResource(cluster, task) };
    }
    const m = /^\/api\/tasks\/([^/]+)(\/raw|\/cancel)?$/.exec(p);
    if (m) {
      const id = decodeURIComponent(m[1]!);
      if (!m[2] && method === "GET") return { status: 200, body: taskResource(cluster, cluster.task(id)) };
      if (m[2] === "/raw" && method === "GET") return { status: 200, body: cluster.readRawLog(id, node.name), text: true };
      if (m[2] === "/cancel" && method === "POST") return { status: 200, body: taskResource(cluster, cluster.cancelTask(id)) };
    }
    return notFound(p);
  };

  // ---- control API ----------------------------------------------------------------------------

  const control = async (req: IncomingMessage, url: URL): Promise<Answer> => {
    const remote = req.socket.remoteAddress ?? "";
    if (!["127.0.0.1", "::1", "::ffff:127.0.0.1"].includes(remote)) return HttpError(403, "The control API answers loopback callers only.");
    if (req.headers["x-standin-token"] !== options.controlToken) return HttpError(401, "The control API needs the X-Standin-Token header.");
    const body = req.method === "POST" ? ((await readJson(req)) ?? {}) : {};
    const p = url.pathname.slice("/__standin/".length).replace(/\/+$/, "");
    const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
    try {
      if (p === "state" && req.method === "GET") return { status: 200, body: { state: cluster.state(), revision: cluster.revision(), now: new Date(cluster.now()).toISOString() } };
      if (p === "faults" && req.method === "POST") {
        const target = str(body.listener) ?? "lb";
        setFaults(target, (body.faults ?? {}) as ListenerFaults);
        return { status: 200, body: { ok: true } };
      }
      if (p === "executable-faults" && req.method === "POST") {
        Object.assign(executableFaults, body);
        return { status: 200, body: executableFaults };
      }
      if (p === "executable-faults" && req.method === "GET") return { status: 200, body: executableFaults };
      if (p === "advance" && req.method === "POST") {
        cluster.advance(Number(body.ms ?? 0));
        return { status: 200, body: { now: new Date(cluster.now()).toISOString() } };
      }
      if (p === "tasks" && req.method === "POST") {
        const task = cluster.queueTask({
          name: str(body.name),
          description: str(body.description),
          spaceId: str(body.spaceId),
          isSystem: body.isSystem === true,
          requestedBy: body.requestedBy === "administrator" ? "administrator" : "user",
          durationMs: typeof body.durationMs === "number" ? body.durationMs : undefined,
        });
        return { status: 201, body: task };
      }
      const complete = /^tasks\/([^/]+)\/complete$/.exec(p);
      if (complete && req.method === "POST") {
        const state = (str(body.state) ?? "Success") as "Success" | "Failed" | "Canceled" | "TimedOut";
        return { status: 200, body: cluster.completeTask(complete[1]!, state) };
      }
      const svc = /^services\/([^/]+)\/(start|stop|stuck|unstuck)$/.exec(p);
      if (svc && req.method === "POST") {
        const name = decodeURIComponent(svc[1]!);
        if (svc[2] === "stop") cluster.stopNode(name);
        else if (svc[2] === "start") cluster.startNode(name);
        else cluster.setStuck(name, svc[2] === "stuck");
        await syncNodeListeners();
        return { status: 200, body: cluster.node(name) };
      }
      if (p === "path" && req.method === "POST") {
        if (executableFaults.failPath) return HttpError(500, "Injected fault: could not write the folder settings to the database.");
        return { status: 200, body: cluster.setFolders(body as Partial<SimFolders>) };
      }
      if (p === "write-file" && req.method === "POST") {
        return { status: 200, body: { local: cluster.writeFile(String(body.node), String(body.path), String(body.content ?? "")) } };
      }
      const ext = options.controlExtensions?.[p];
      if (ext && req.method === "POST") return { status: 200, body: (await ext(body)) ?? { ok: true } };
      return notFound(url.pathname);
    } catch (error) {
      if (error instanceof MaintenanceModeError) return HttpError(error.status, error.message);
      if (error instanceof NotFoundError) return HttpError(404, error.message);
      return HttpError(400, error instanceof Error ? error.message : String(error));
    }
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
    syncing = syncing.catch(() => undefined).then(async () => {
      for (const node of cluster.nodes()) {
        const l = nodeListeners.get(node.name)!;
        if (!node.running && l.server) await closeListener(l);
        if (node.running && !l.server && !closed) await listen(l, handle(l, node.name), l.port);
      }
    });
    return syncing;
  };

  await listen(lb, handle(lb, undefined), options.port ?? 0);
  for (const node of cluster.nodes()) {
    const l = new Listener();
    nodeListeners.set(node.name, l);
    if (node.running) await listen(l, handle(l, node.name), 0);
  }
  const unsubscribe = cluster.onChange(() => void syncNodeListeners().catch(() => undefined));

  const base = (port: number) => `http://${host}:${port}`;
  return {
    url: base(lb.port),
    nodeUrls: Object.fromEntries([...nodeListeners].map(([name, l]) => [name, base(l.port)])),
    controlUrl: `${base(lb.port)}/__standin`,
    setFaults,
    settle: () => syncNodeListeners(),
    executableFaults,
    async close() {
      closed = true;
      unsubscribe();
      await syncing.catch(() => undefined);
      await closeListener(lb);
      for (const l of nodeListeners.values()) await closeListener(l);
    },
  };
}

function notFound(p: string): Answer {
  return HttpError(404, `The stand-in does not implement '${p}'. It answers only the endpoints it simulates (see README, "The Octopus stand-in").`);
}

function paging(q: URLSearchParams): { skip: number; take: number } {
  const skip = Math.max(0, Number.parseInt(q.get("skip") ?? "0", 10) || 0);
  const rawTake = Number.parseInt(q.get("take") ?? "30", 10);
  return { skip, take: Number.isFinite(rawTake) && rawTake >= 0 ? rawTake : 30 };
}

function send(res: ServerResponse, answer: Answer): void {
  if (res.headersSent || res.destroyed) return;
  const payload = answer.text ? String(answer.body) : JSON.stringify(answer.body);
  res.writeHead(answer.status, { "Content-Type": answer.text ? "text/plain; charset=utf-8" : "application/json; charset=utf-8", "Content-Length": Buffer.byteLength(payload) });
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
