/** Behaviours every ServerNodes implementation must have. */
import { describe, expect, it } from "vitest";
import { useHarness } from "./lifecycle.js";
import type { ServerNodes } from "../../../src/octopus/types.js";

export interface NodesHarness {
  port: ServerNodes;
  control: {
    /** Names of the cluster's nodes (at least two). */
    nodeNames: string[];
    setDraining(nodeName: string, draining: boolean): Promise<void>;
    /** Queue a user task and let a node pick it up; resolves to the task id. */
    startTask(): Promise<string>;
  };
  close(): Promise<void>;
}

export function describeNodesContract(name: string, make: () => Promise<NodesHarness>): void {
  describe(`ServerNodes contract: ${name}`, () => {
    const harness = useHarness(make);

    it("lists every node by name with its task cap and drain flag", async () => {
      const h = harness();
      const nodes = await h.port.list();
      expect(nodes.map((n) => n.name).sort()).toEqual([...h.control.nodeNames].sort());
      for (const n of nodes) {
        expect(n.id).not.toBe("");
        expect(n.maxConcurrentTasks).toBeGreaterThanOrEqual(0);
        expect(n.isDraining).toBe(false);
      }
    });

    it("draining a node through update shows in list and in that node's ping", async () => {
      const h = harness();
      const [first, second] = await h.port.list();
      const updated = await h.port.update(first!.id, { isDraining: true });
      expect(updated.isDraining).toBe(true);
      expect((await h.port.list()).find((n) => n.name === first!.name)?.isDraining).toBe(true);
      expect(await h.port.ping(first!.name)).toBe("draining");
      expect(await h.port.ping(second!.name)).toBe("online");
    });

    it("changing the task cap keeps the drain flag as it was", async () => {
      const h = harness();
      const [first] = await h.port.list();
      await h.control.setDraining(first!.name, true);
      const updated = await h.port.update(first!.id, { maxConcurrentTasks: 0 });
      expect(updated.maxConcurrentTasks).toBe(0);
      expect(updated.isDraining).toBe(true);
    });

    it("running-task counts add up to the tasks executing", async () => {
      const h = harness();
      await h.control.startTask();
      await h.control.startTask();
      const total = (await h.port.list()).reduce((sum, n) => sum + (n.runningTaskCount ?? 0), 0);
      expect(total).toBe(2);
    });

    it("updating a node that does not exist fails with an error naming it", async () => {
      const h = harness();
      await expect(h.port.update("OctopusServerNodes-NOPE", { isDraining: true })).rejects.toThrow(/NOPE/);
    });
  });
}
