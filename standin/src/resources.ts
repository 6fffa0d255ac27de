/**
 * The JSON resources the stand-in answers with, spelled as reference/octopus.md §2 documents them
 * (PascalCase fields, Links with relative URIs).
 */
import { compareVersions } from "./versions.js";
import type { Cluster } from "./cluster.js";
import type { SimNode, SimTask } from "./model.js";

export const ACTIVE_STATES = ["Queued", "Executing", "Cancelling"];

export function rootDocument(cluster: Cluster): Record<string, unknown> {
  return {
    Application: "Octopus Deploy",
    Version: cluster.version,
    ApiVersion: "3.0.0",
    InstallationId: cluster.installationId,
    IsEarlyAccessProgram: false,
    HasLongTermSupport: false,
    Links: {
      Self: "/api",
      MaintenanceConfiguration: "/api/maintenanceconfiguration",
      ServerStatus: "/api/serverstatus",
      ServerHealthStatus: "/api/serverstatus/health",
      OctopusServerNodes: "/api/octopusservernodes{/id}{?skip,take,ids,partialName}",
      Tasks:
        "/api/tasks{/id}{?skip,active,environment,tenant,project,name,node,running,states,hasPendingInterruptions,hasWarningsOrErrors,take,ids,partialName,spaces,includeSystem}",
    },
  };
}

export function maintenanceResource(cluster: Cluster): Record<string, unknown> {
  return { Id: "maintenance", IsInMaintenanceMode: cluster.isInMaintenanceMode, Links: { Self: "/api/maintenanceconfiguration" } };
}

function nodeLinks(node: SimNode): Record<string, string> {
  const self = `/api/octopusservernodes/${encodeURIComponent(node.id)}`;
  return { Self: self, Node: self, Details: `${self}/details` };
}

/** The node resource; before 2020.3 it still carried Rank (leadership was removed then). */
export function nodeResource(cluster: Cluster, node: SimNode): Record<string, unknown> {
  const r: Record<string, unknown> = {
    Id: node.id,
    Name: node.name,
    MaxConcurrentTasks: node.maxConcurrentTasks,
    IsInMaintenanceMode: node.isDraining,
    LastSeen: node.lastSeen,
    // A node heartbeating into another database (a split cluster) is as silent as a stopped one here.
    IsOffline: !node.running || !cluster.onLive(node),
    Version: cluster.version,
    Links: nodeLinks(node),
  };
  if (compareVersions(cluster.version, "2020.3") < 0) r.Rank = cluster.nodes()[0]?.name === node.name ? "Leader" : "Follower";
  return r;
}

export function nodeSummaryItem(cluster: Cluster, node: SimNode): Record<string, unknown> {
  return { ...nodeResource(cluster, node), RunningTaskCount: cluster.runningTaskCount(node.name) };
}

/** ServerTask.ServerNode as the API shows it: the node name on 3.x, the node Id on 2018+ (see README: [U] in the reference). */
export function taskNodeValue(cluster: Cluster, task: SimTask): string | null {
  if (!task.serverNode) return null;
  if (cluster.state().schema === "3.x") return task.serverNode;
  return cluster.node(task.serverNode).id;
}

export function taskResource(cluster: Cluster, task: SimTask): Record<string, unknown> {
  const self = `/api/tasks/${task.id}`;
  const completed = !ACTIVE_STATES.includes(task.state);
  const duration = task.startTime
    ? Math.round(((task.completedTime ? Date.parse(task.completedTime) : cluster.now()) - Date.parse(task.startTime)) / 1000)
    : 0;
  return {
    Id: task.id,
    SpaceId: task.isSystem ? null : task.spaceId,
    Name: task.name,
    Description: task.description,
    Arguments: {},
    State: task.state,
    Completed: completed ? "a while ago" : "",
    QueueTime: task.queueTime,
    QueueTimeExpiry: null,
    StartTime: task.startTime,
    LastUpdatedTime: task.completedTime ?? task.startTime ?? task.queueTime,
    CompletedTime: task.completedTime,
    ServerNode: taskNodeValue(cluster, task),
    Duration: `${duration} seconds`,
    ErrorMessage: task.state === "Failed" ? "The deployment failed." : "",
    HasBeenPickedUpByProcessor: task.serverNode !== null,
    IsCompleted: completed,
    FinishedSuccessfully: task.state === "Success",
    HasPendingInterruptions: false,
    CanRerun: completed,
    HasWarningsOrErrors: task.state === "Failed",
    Links: { Self: self, Raw: `${self}/raw`, Details: `${self}/details{?verbose,tail}`, Cancel: `${self}/cancel` },
  };
}

/** ResourceCollection paging as Octopus shapes it. */
export function collection<T>(itemType: string, items: T[], skip: number, take: number, selfPath: string): Record<string, unknown> {
  const page = items.slice(skip, skip + take);
  const pages = Math.max(1, Math.ceil(items.length / Math.max(1, take)));
  const links: Record<string, string> = { Self: `${selfPath}?skip=${skip}&take=${take}`, "Page.All": `${selfPath}?skip=0&take=2147483647` };
  if (skip + take < items.length) links["Page.Next"] = `${selfPath}?skip=${skip + take}&take=${take}`;
  return {
    ItemType: itemType,
    TotalResults: items.length,
    ItemsPerPage: take,
    NumberOfPages: pages,
    LastPageNumber: pages - 1,
    Items: page,
    Links: links,
  };
}
