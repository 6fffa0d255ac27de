/** The REST adapters pass the port contracts against the stand-in, over real sockets. */
import { createRestPorts } from "../../src/octopus/rest/index.js";
import { nodeUrls, startTestStandin } from "@octoha/standin/testing";
import { describeMaintenanceContract } from "./contracts/maintenance.js";
import { describeNodesContract } from "./contracts/nodes.js";
import { describeTasksContract } from "./contracts/tasks.js";

async function setup() {
  const s = await startTestStandin();
  const ports = createRestPorts({ serverUrl: s.url, apiKey: s.apiKey, nodeUrls: nodeUrls(s), backoffMs: 5, timeoutMs: 5000 });
  return { s, ports };
}

describeMaintenanceContract("REST adapter against the stand-in", async () => {
  const { s, ports } = await setup();
  return {
    port: ports.maintenance,
    control: { current: async () => s.cluster.isInMaintenanceMode, set: async (on) => s.cluster.setMaintenanceMode(on) },
    close: () => s.close(),
  };
});

describeNodesContract("REST adapter against the stand-in", async () => {
  const { s, ports } = await setup();
  return {
    port: ports.nodes,
    control: {
      nodeNames: s.cluster.nodes().map((n) => n.name),
      setDraining: async (name, on) => void s.cluster.updateNode(name, { isDraining: on }),
      startTask: async () => {
        const t = s.cluster.queueTask({ durationMs: 60_000 });
        s.cluster.advance(0);
        return t.id;
      },
    },
    close: () => s.close(),
  };
});

describeTasksContract("REST adapter against the stand-in", async () => {
  const { s, ports } = await setup();
  return {
    port: ports.tasks,
    control: {
      nodeNames: s.cluster.nodes().map((n) => n.name),
      queueTask: async (o) => s.cluster.queueTask({ isSystem: o?.isSystem }).id,
      pickUp: async () => s.cluster.advance(0),
      completeTask: async (id) => void s.cluster.completeTask(id),
      nodeOf: async (id) => s.cluster.task(id).serverNode,
    },
    close: () => s.close(),
  };
});
