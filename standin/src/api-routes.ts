/**
 * The Octopus REST endpoints the stand-in answers (reference/octopus.md §2), as a pure mapping from a
 * request to an answer over the one Cluster. Listeners, faults and the wire live in http.ts.
 */
import type { IncomingHttpHeaders } from "node:http";
import { compareVersions } from "./versions.js";
import { MaintenanceModeError, NotFoundError, TaskLogMissingError, type Cluster } from "./cluster.js";
import type { SimNode } from "./model.js";
import { ACTIVE_STATES, collection, maintenanceResource, nodeResource, nodeSummaryItem, rootDocument, taskResource } from "./resources.js";

export interface Answer {
  status: number;
  body: unknown;
  text?: boolean;
}

export const HttpError = (status: number, message: string): Answer => ({ status, body: { ErrorMessage: message, Errors: [] } });

export interface ApiContext {
  cluster: Cluster;
  /** Administrator API key (AdministerSystem). */
  apiKey: string;
  /** A key without AdministerSystem. */
  userApiKey?: string;
}

type Who = "administrator" | "user";

function authorize(ctx: ApiContext, headers: IncomingHttpHeaders): Who | undefined {
  const key = headers["x-octopus-apikey"];
  if (key === ctx.apiKey) return "administrator";
  if (ctx.userApiKey && key === ctx.userApiKey) return "user";
  return undefined;
}

/** Answer one API request as `node` would. `body` is undefined when it was not valid JSON. */
export function answerApi(
  ctx: ApiContext,
  method: string,
  headers: IncomingHttpHeaders,
  url: URL,
  node: SimNode,
  body: Record<string, unknown> | undefined,
): Answer {
  const { cluster } = ctx;
  const p = url.pathname.replace(/\/+$/, "") || "/";
  const q = url.searchParams;
  // Anonymous endpoints: the root document, the node ping (load balancers call it), Redis status.
  if (p === "/api" && method === "GET") return { status: 200, body: rootDocument(cluster) };
  if (p === "/api/octopusservernodes/ping" && method === "GET")
    return { status: node.isDraining ? 418 : 200, body: nodeResource(cluster, node) };
  if (p === "/api/serverstatus/redis" && method === "GET") {
    if (compareVersions(cluster.version, "2026.4.6909") < 0) return notFound(p);
    return { status: 200, body: { IsEnabled: false, IsConfigured: false, IsReachable: false } };
  }
  const who = authorize(ctx, headers);
  if (!who) return HttpError(401, "You must be logged in to perform this action. Please provide a valid API key or log in again.");
  if (body === undefined) return HttpError(400, "The request body is not valid JSON.");
  const needsAdmin = (): Answer | undefined =>
    who === "administrator"
      ? undefined
      : HttpError(
          403,
          "You do not have permission to perform this action. Please contact your Octopus administrator. Missing permission: AdministerSystem",
        );
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
      return {
        status: 200,
        body: {
          IsDatabaseEncrypted: true,
          IsMajorMinorUpgrade: false,
          IsInMaintenanceMode: cluster.isInMaintenanceMode,
          IsUpgradeAvailable: false,
          MaintenanceExpires: "2027-01-01T00:00:00.000Z",
          MaximumAvailableVersion: cluster.version,
          MaximumAvailableVersionCoveredByLicense: cluster.version,
          Links: { Self: "/api/serverstatus", Health: "/api/serverstatus/health" },
        },
      };
    }
    if (p === "/api/serverstatus/health" && method === "GET") {
      const nodes = cluster.nodes();
      const allDraining = nodes.every((n) => n.isDraining);
      return {
        status: 200,
        body: {
          IsOperatingNormally: !cluster.isInMaintenanceMode && !allDraining,
          Description: cluster.isInMaintenanceMode
            ? "The server is in maintenance mode."
            : allDraining
              ? "Every node is draining tasks."
              : "Operating normally.",
          IsEntireClusterReadOnly: cluster.isInMaintenanceMode,
          IsEntireClusterDrainingTasks: allDraining,
          IsCompliantWithLicense: true,
        },
      };
    }
    if (p.startsWith("/api/octopusservernodes")) return nodesApi(cluster, method, p, q, body, needsAdmin);
    if (p === "/api/spaces" && method === "GET" && compareVersions(cluster.version, "2019.1") >= 0) {
      // One space: enough for clients that resolve a space name (Spaces came in 2019.1).
      const { skip, take } = paging(q);
      const partial = q.get("partialName")?.toLowerCase() ?? "";
      const items = [
        {
          Id: "Spaces-1",
          Name: "Default",
          Slug: "default",
          IsDefault: true,
          TaskQueueStopped: false,
          Links: { Self: "/api/spaces/Spaces-1" },
        },
      ].filter((x) => x.Name.toLowerCase().includes(partial));
      return { status: 200, body: collection("Space", items, skip, take, "/api/spaces") };
    }
    const spaceScoped = /^\/api\/(Spaces-\d+)(\/tasks.*)$/i.exec(p);
    if (spaceScoped) return tasksApi(cluster, method, `/api${spaceScoped[2]}`, q, body, node, who, spaceScoped[1]);
    if (p.startsWith("/api/tasks")) return tasksApi(cluster, method, p, q, body, node, who, undefined);
    return notFound(p);
  } catch (error) {
    if (error instanceof NotFoundError) return HttpError(404, error.message);
    if (error instanceof MaintenanceModeError) return HttpError(error.status, error.message);
    if (error instanceof TaskLogMissingError) return HttpError(500, `An error occurred reading the log file: ${error.message}`);
    if (error instanceof RangeError) return HttpError(400, error.message);
    throw error;
  }
}

function nodesApi(
  cluster: Cluster,
  method: string,
  p: string,
  q: URLSearchParams,
  body: Record<string, unknown>,
  needsAdmin: () => Answer | undefined,
): Answer {
  const all = cluster.nodes();
  if (p === "/api/octopusservernodes" && method === "GET") {
    const { skip, take } = paging(q);
    const ids = q.get("ids")?.split(",").filter(Boolean);
    const partial = q.get("partialName")?.toLowerCase();
    const items = all
      .filter((n) => (!ids || ids.includes(n.id)) && (!partial || n.name.toLowerCase().includes(partial)))
      .map((n) => nodeResource(cluster, n));
    return { status: 200, body: collection("OctopusServerNode", items, skip, take, "/api/octopusservernodes") };
  }
  if (p === "/api/octopusservernodes/all" && method === "GET") return { status: 200, body: all.map((n) => nodeResource(cluster, n)) };
  if (p === "/api/octopusservernodes/summary" && method === "GET") {
    // Added in 2019 (reference §2.3): older servers answer 404, as they would.
    if (compareVersions(cluster.version, "2019.1") < 0) return notFound(p);
    return {
      status: 200,
      body: { Nodes: all.map((n) => nodeSummaryItem(cluster, n)), Links: { Self: "/api/octopusservernodes/summary" } },
    };
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
}

function tasksApi(
  cluster: Cluster,
  method: string,
  p: string,
  q: URLSearchParams,
  body: Record<string, unknown>,
  node: SimNode,
  who: Who,
  space: string | undefined,
): Answer {
  if (p === "/api/tasks" && method === "GET") {
    const { skip, take } = paging(q);
    const states = q.get("states")?.split(",").filter(Boolean);
    const active = q.get("active") === "true";
    const nodeFilter = q.get("node");
    const spaces = space ? [space] : q.get("spaces")?.split(",").filter(Boolean);
    const includeSystem = !space && q.get("includeSystem") === "true";
    const ids = q.get("ids")?.split(",").filter(Boolean);
    const name = q.get("name");
    const nodeMatch = nodeFilter
      ? cluster.nodes().find((n) => n.name.toLowerCase() === nodeFilter.toLowerCase() || n.id === nodeFilter)
      : undefined;
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
    return {
      status: 200,
      body: { ...collection("Task", items, skip, take, space ? `/api/${space}/tasks` : "/api/tasks"), TotalCounts: counts },
    };
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
}

export function notFound(p: string): Answer {
  return HttpError(
    404,
    `The stand-in does not implement '${p}'. It answers only the endpoints it simulates (see README, "The Octopus stand-in").`,
  );
}

export function paging(q: URLSearchParams): { skip: number; take: number } {
  const skip = Math.max(0, Number.parseInt(q.get("skip") ?? "0", 10) || 0);
  const rawTake = Number.parseInt(q.get("take") ?? "30", 10);
  return { skip, take: Number.isFinite(rawTake) && rawTake >= 0 ? rawTake : 30 };
}
