/** Behaviours every ServerTasks implementation must have. */
import { describe, expect, it } from "vitest";
import { useHarness } from "./lifecycle.js";
import { OctohaError } from "../../../src/shared/errors.js";
import type { ServerTasks } from "../../../src/octopus/types.js";

export interface TasksHarness {
  port: ServerTasks;
  control: {
    nodeNames: string[];
    /** Queue a task (not picked up yet); resolves to its id. */
    queueTask(options?: { isSystem?: boolean }): Promise<string>;
    /** Let nodes pick up queued tasks. */
    pickUp(): Promise<void>;
    completeTask(taskId: string): Promise<void>;
    /** The node that ran a task (by name). */
    nodeOf(taskId: string): Promise<string | null>;
  };
  close(): Promise<void>;
}

export function describeTasksContract(name: string, make: () => Promise<TasksHarness>): void {
  describe(`ServerTasks contract: ${name}`, () => {
    const harness = useHarness(make);

    it("lists queued and executing tasks, system tasks included, and not completed ones", async () => {
      const h = harness();
      const executing = await h.control.queueTask();
      await h.control.pickUp();
      const done = await h.control.queueTask();
      await h.control.pickUp();
      await h.control.completeTask(done);
      const system = await h.control.queueTask({ isSystem: true });
      const active = await h.port.listActive();
      const ids = active.map((t) => t.id);
      expect(ids).toContain(executing);
      expect(ids).toContain(system);
      expect(ids).not.toContain(done);
      expect(active.find((t) => t.id === executing)?.state).toBe("Executing");
    });

    it("a cancelled queued task is no longer active", async () => {
      const h = harness();
      // Fill every node? No: cancel before any pick-up.
      const id = await h.control.queueTask();
      await h.port.cancel(id);
      expect((await h.port.listActive()).map((t) => t.id)).not.toContain(id);
    });

    it("reads a task's raw log through the node that ran it", async () => {
      const h = harness();
      const id = await h.control.queueTask();
      await h.control.pickUp();
      await h.control.completeTask(id);
      const node = await h.control.nodeOf(id);
      expect(node).not.toBeNull();
      const text = await h.port.readRawLog(id, node!);
      expect(text).toContain(id);
    });

    it("reading the raw log of a task that does not exist fails with an OctohaError", async () => {
      const h = harness();
      await expect(h.port.readRawLog("ServerTasks-999999")).rejects.toBeInstanceOf(OctohaError);
    });
  });
}
