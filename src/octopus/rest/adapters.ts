/**
 * REST implementations of the Octopus ports (src/octopus/types.ts), after reference/octopus.md §2.
 * Each is a thin mapping from PascalCase resources to the port types; transport, retries and error
 * wording live in OctopusHttpClient.
 */
import { OctohaError } from "../../shared/errors.js";
import type {
  MaintenanceMode,
  NodePing,
  NodePingAnswer,
  ServerNode,
  ServerNodes,
  ServerTask,
  ServerTasks,
  VersionProbe,
} from "../types.js";
import { ACTIVE_TASK_STATES, answeredByOtherNode } from "../types.js";
import { OctopusApiError, RequestInterrupted, refuseOtherNode, type HttpAnswer, type OctopusHttpClient } from "./client.js";

interface NodeResource {
  Id: string;
  Name: string;
  MaxConcurrentTasks: number;
  IsInMaintenanceMode: boolean;
  IsOffline?: boolean;
  LastSeen?: string;
  RunningTaskCount?: number;
  Version?: string;
  Links?: Record<string, string>;
}

interface TaskResource {
  Id: string;
  Name: string;
  Description?: string;
  State: string;
  ServerNode?: string | null;
  QueueTime?: string;
  StartTime?: string | null;
  CompletedTime?: string | null;
  SpaceId?: string | null;
}

interface Collection<T> {
  Items: T[];
  TotalResults: number;
  ItemsPerPage?: number;
}

/** Upper bound on pages read in one listing: a guard against a server whose paging never ends. */
const MAX_PAGES = 10_000;
const PAGE_SIZE = 100;

export class RestMaintenanceMode implements MaintenanceMode {
  constructor(private readonly client: OctopusHttpClient) {}

  async isOn(): Promise<boolean> {
    const path = await this.client.link("MaintenanceConfiguration", "/api/maintenanceconfiguration");
    const { body } = await this.client.request<{ IsInMaintenanceMode: boolean }>("GET", path);
    return body.IsInMaintenanceMode;
  }

  async set(on: boolean): Promise<void> {
    const path = await this.client.link("MaintenanceConfiguration", "/api/maintenanceconfiguration");
    // Send the resource back with the one writeable field changed (reference §2.2).
    const { body } = await this.client.request<Record<string, unknown>>("GET", path);
    await this.client.request("PUT", path, { body: { ...body, IsInMaintenanceMode: on } });
  }
}

function toServerNode(r: NodeResource): ServerNode {
  const node: ServerNode = { id: r.Id, name: r.Name, maxConcurrentTasks: r.MaxConcurrentTasks, isDraining: r.IsInMaintenanceMode };
  if (r.IsOffline !== undefined) node.isOffline = r.IsOffline;
  if (r.LastSeen !== undefined) node.lastSeen = r.LastSeen;
  if (r.RunningTaskCount !== undefined) node.runningTaskCount = r.RunningTaskCount;
  if (r.Version !== undefined) node.version = r.Version;
  return node;
}

export class RestServerNodes implements ServerNodes {
  constructor(private readonly client: OctopusHttpClient) {}

  async list(): Promise<ServerNode[]> {
    try {
      const { body } = await this.client.request<{ Nodes: NodeResource[] }>("GET", "/api/octopusservernodes/summary");
      return body.Nodes.map(toServerNode);
    } catch (error) {
      // /summary arrived in 2019; older servers list nodes without running-task counts.
      if (!(error instanceof OctopusApiError) || error.status !== 404) throw error;
    }
    const items = await readAllPages<NodeResource>(this.client, "/api/octopusservernodes", "");
    return items.map(toServerNode);
  }

  async update(nodeId: string, change: { isDraining?: boolean; maxConcurrentTasks?: number }): Promise<ServerNode> {
    const path = `/api/octopusservernodes/${encodeURIComponent(nodeId)}`;
    const { body: current } = await this.client.request<NodeResource>("GET", path);
    const next: NodeResource = { ...current };
    if (change.isDraining !== undefined) next.IsInMaintenanceMode = change.isDraining;
    if (change.maxConcurrentTasks !== undefined) next.MaxConcurrentTasks = change.maxConcurrentTasks;
    const { body } = await this.client.request<NodeResource>("PUT", path, { body: next });
    return toServerNode(body);
  }

  /** 200 online, 418 draining, anything else (or no answer) offline: what a load balancer concludes. */
  async ping(nodeName: string): Promise<NodePing> {
    return (await this.pingAnswer(nodeName)).ping;
  }

  async pingAnswer(nodeName: string): Promise<NodePingAnswer> {
    try {
      return { ping: (await pingThrough(this.client, nodeName, 2)).status === 418 ? "draining" : "online" };
    } catch (error) {
      if (error instanceof OctopusApiError) return { ping: "offline", ...(error.status !== undefined ? { status: error.status } : {}) };
      throw error; // an interruption, a node without a URL, another node answering
    }
  }
}

function toServerTask(r: TaskResource): ServerTask {
  return {
    id: r.Id,
    name: r.Name,
    description: r.Description,
    state: r.State,
    serverNode: r.ServerNode ?? null,
    queueTime: r.QueueTime,
    startTime: r.StartTime ?? null,
    completedTime: r.CompletedTime ?? null,
    spaceId: r.SpaceId ?? null,
  };
}

export class RestServerTasks implements ServerTasks {
  constructor(private readonly client: OctopusHttpClient) {}

  /** Every space and system tasks too: `active=true` alone would miss tasks outside the default listing. */
  async listActive(): Promise<ServerTask[]> {
    const items = await readAllPages<TaskResource>(
      this.client,
      "/api/tasks",
      `states=${ACTIVE_TASK_STATES.join(",")}&active=true&includeSystem=true`,
    );
    return items.map(toServerTask);
  }

  async cancel(taskId: string): Promise<void> {
    await this.client.request("POST", `/api/tasks/${encodeURIComponent(taskId)}/cancel`, { body: {} });
  }

  async readRawLog(taskId: string, viaNodeName?: string): Promise<string> {
    try {
      const { body } = await this.client.request<string>("GET", `/api/tasks/${encodeURIComponent(taskId)}/raw`, {
        node: viaNodeName,
        text: true,
        retry500: false,
      });
      return body;
    } catch (error) {
      if (error instanceof OctopusApiError && error.status !== undefined && error.status >= 500 && error.behaviour === "fatal") {
        throw new OctopusApiError(
          `The task log of ${taskId} could not be read through ${viaNodeName ? `node ${viaNodeName}` : "the load balancer"}: ${error.message}`,
          error.status,
          error.url,
          {
            code: "OCTOPUS_TASK_LOG_UNREADABLE",
            behaviour: "continue",
            node: viaNodeName,
            hint: "The node answering looks for the file in its own TaskLogs folder. If another node wrote it to a local disk, this node cannot see it: move TaskLogs to shared storage (octoha repair).",
            cause: error,
          },
        );
      }
      throw error;
    }
  }
}

export class RestVersionProbe implements VersionProbe {
  constructor(private readonly client: OctopusHttpClient) {}

  async serverVersion(): Promise<string> {
    const version = (await this.client.root()).Version;
    if (typeof version !== "string")
      throw new OctohaError(`${this.client.serverUrl}/api has no Version.`, {
        code: "OCTOPUS_API_BAD_ANSWER",
        hint: "Is the URL the Octopus Server root? The /api document of every Octopus version names its Version.",
      });
    return version;
  }
}

async function readAllPages<T>(client: OctopusHttpClient, path: string, query: string): Promise<T[]> {
  const out: T[] = [];
  for (let page = 0; page < MAX_PAGES; page++) {
    const q = `${query ? `${query}&` : ""}skip=${out.length}&take=${PAGE_SIZE}`;
    const { body } = await client.request<Collection<T>>("GET", `${path}?${q}`);
    out.push(...body.Items);
    if (body.Items.length === 0 || out.length >= body.TotalResults) return out;
  }
  throw new OctohaError(`${path} kept returning pages after ${MAX_PAGES} pages.`, {
    code: "OCTOPUS_API_PAGING",
    hint: "The server's paging did not end; this is unexpected. Report it with the Octopus version.",
  });
}

const PING_PATH = "/api/octopusservernodes/ping";

/**
 * The ping through a node's own URL (200, or 418 while draining). Its body is the answering node's
 * resource, so its Name must be that node's (the client checks the Octopus-Node header the same way).
 */
async function pingThrough(
  client: OctopusHttpClient,
  nodeName: string,
  attempts: number,
): Promise<HttpAnswer<Partial<NodeResource> | undefined>> {
  const answer = await client.request<Partial<NodeResource> | undefined>("GET", PING_PATH, { node: nodeName, accept: [418], attempts });
  const name = answer.body?.Name;
  refuseOtherNode(nodeName, `${client.nodeUrl(nodeName)}${PING_PATH}`, typeof name === "string" ? name : undefined, client.checkCommand);
  return answer;
}

/**
 * A node's service state as seen from its own URL: an answer (200/418) means running; a refused
 * connection means nothing listens there, i.e. stopped; anything else is unknown.
 */
export async function serviceStateViaPing(client: OctopusHttpClient, nodeName: string): Promise<"running" | "stopped" | "unknown"> {
  try {
    await pingThrough(client, nodeName, 1);
    return "running";
  } catch (error) {
    // Not "unknown": a URL that another node answers would make this node look up while it is down.
    if (error instanceof RequestInterrupted || answeredByOtherNode(error)) throw error;
    let e: unknown = error;
    for (let i = 0; e && i < 6; i++) {
      if ((e as { code?: unknown }).code === "ECONNREFUSED") return "stopped";
      e = (e as { cause?: unknown }).cause;
    }
    return "unknown";
  }
}
