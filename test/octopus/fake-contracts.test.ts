/**
 * The in-memory fakes the step tests rely on pass the same contracts as the real adapters
 * (which run against the stand-in in rest-contracts and cli-contracts), so a step that passes
 * against the fakes is exercised on honest behaviour.
 */
import { createFakeCluster, defaultFakeState, type FakeCluster } from "./fakes.js";
import { describeMaintenanceContract } from "./contracts/maintenance.js";
import { describeNodesContract } from "./contracts/nodes.js";
import { describeTasksContract } from "./contracts/tasks.js";
import { describeFoldersContract } from "./contracts/folders.js";
import { describeServicesContract } from "./contracts/services.js";
import { describeInventoryContract } from "./contracts/inventory-contract.js";

const close = async () => {};
let nextTask = 1000;

function queue(fake: FakeCluster, options?: { isSystem?: boolean }): string {
  const id = `ServerTasks-${nextTask++}`;
  fake.state.tasks.push({ id, name: options?.isSystem ? "Retention" : "Deploy", state: "Queued", serverNode: null, completedTime: null });
  return id;
}

function pickUp(fake: FakeCluster): void {
  const node = fake.state.nodes.find((n) => !n.isDraining && n.service === "running");
  for (const t of fake.state.tasks) if (t.state === "Queued" && node) Object.assign(t, { state: "Executing", serverNode: node.name });
}

describeMaintenanceContract("in-memory fake", async () => {
  const fake = createFakeCluster();
  return {
    port: fake.ports.maintenance,
    control: { current: async () => fake.state.maintenance, set: async (on) => void (fake.state.maintenance = on) },
    close,
  };
});

describeNodesContract("in-memory fake", async () => {
  const fake = createFakeCluster();
  return {
    port: fake.ports.nodes,
    control: {
      nodeNames: fake.state.nodes.map((n) => n.name),
      setDraining: async (name, on) => void (fake.state.nodes.find((n) => n.name === name)!.isDraining = on),
      startTask: async () => {
        const id = queue(fake);
        pickUp(fake);
        return id;
      },
    },
    close,
  };
});

describeTasksContract("in-memory fake", async () => {
  const fake = createFakeCluster();
  return {
    port: fake.ports.tasks,
    control: {
      nodeNames: fake.state.nodes.map((n) => n.name),
      queueTask: async (o) => queue(fake, o),
      pickUp: async () => pickUp(fake),
      completeTask: async (id) => {
        const t = fake.state.tasks.find((x) => x.id === id)!;
        Object.assign(t, { state: "Success", completedTime: new Date().toISOString() });
        t.logVia = Object.fromEntries(fake.state.nodes.map((n) => [n.name, `log of ${id}`]));
      },
      nodeOf: async (id) => fake.state.tasks.find((x) => x.id === id)?.serverNode ?? null,
    },
    close,
  };
});

describeFoldersContract("in-memory fake, Octopus 2022.1", async () => {
  const state = { ...defaultFakeState(), version: "2022.1.2000" };
  const fake = createFakeCluster(state, { unsupportedPathKeys: new Set(["eventExports"]) });
  return {
    port: fake.ports.folders,
    control: { version: state.version, home: "C:\\Octopus", stored: async () => ({ ...fake.state.folders }) },
    close,
  };
});

describeServicesContract("in-memory fake", async () => {
  const fake = createFakeCluster();
  return {
    port: fake.ports.services,
    control: {
      nodeNames: fake.state.nodes.map((n) => n.name),
      isRunning: async (name) => fake.state.nodes.find((n) => n.name === name)!.service === "running",
    },
    close,
  };
});

describeInventoryContract("in-memory fake", async (seed) => {
  const idOf = (name: string | null) => seed.nodes.find((n) => n.name === name)?.id ?? name;
  const fake = createFakeCluster({
    ...defaultFakeState(),
    version: seed.version,
    // 3.x stored the node name as the node row's Id.
    nodes: seed.nodes.map((n) => ({
      id: seed.schema === "3.x" ? n.name : n.id,
      name: n.name,
      maxConcurrentTasks: n.maxConcurrentTasks,
      isDraining: n.isDraining,
      service: n.running ? "running" : "stopped",
    })),
    tasks: seed.tasks.map((t) => ({
      id: t.id,
      name: t.name,
      state: t.state,
      serverNode: seed.schema === "3.x" ? t.serverNode : idOf(t.serverNode),
      completedTime: t.completedTime,
    })),
    packages: seed.packages.map((p) => ({
      id: p.id,
      packageId: p.packageId,
      version: p.version,
      spaceId: seed.schema === "3.x" ? null : p.spaceId,
    })),
    schema:
      seed.schema === "3.x"
        ? {
            taskNodeColumn: "ServerNode",
            nodeTable: "OctopusServerNode",
            hasNodeStatusTable: false,
            hasSpaceId: false,
            hasNuGetPackage: true,
          }
        : {
            taskNodeColumn: "ServerNodeId",
            nodeTable: "OctopusServerNode",
            hasNodeStatusTable: false,
            hasSpaceId: true,
            hasNuGetPackage: true,
          },
  });
  return { inventory: fake.ports.inventory, cleanup: close };
});
