/** The REST side of OctopusPorts, built from one client. */
import { OctopusHttpClient, type OctopusClientOptions } from "./client.js";
import { RestMaintenanceMode, RestServerNodes, RestServerTasks, RestVersionProbe } from "./adapters.js";
import type { MaintenanceMode, ServerNodes, ServerTasks, VersionProbe } from "../types.js";

export { OctopusHttpClient, OctopusApiError, RequestInterrupted, type OctopusClientOptions } from "./client.js";
export { RestMaintenanceMode, RestServerNodes, RestServerTasks, RestVersionProbe, serviceStateViaPing } from "./adapters.js";

export interface RestPorts {
  maintenance: MaintenanceMode;
  nodes: ServerNodes;
  tasks: ServerTasks;
  version: VersionProbe;
}

export function createRestPorts(options: OctopusClientOptions): RestPorts {
  const client = new OctopusHttpClient(options);
  return {
    maintenance: new RestMaintenanceMode(client),
    nodes: new RestServerNodes(client),
    tasks: new RestServerTasks(client),
    version: new RestVersionProbe(client),
  };
}
