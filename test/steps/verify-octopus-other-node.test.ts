/**
 * verify-octopus reads each task log through each node's own URL. When that URL is answered by
 * another node (a load-balanced or mistyped nodes[].url), its reads would succeed through the wrong
 * node: the step stops with that reason at once, instead of waiting out the start-up timeout as if
 * the node were offline, or reporting the node as fine.
 */
import { describe, expect, it } from "vitest";
import { OctohaError } from "../../src/shared/errors.js";
import { OTHER_NODE_ANSWERED, type DatabaseInventory, type NodePing, type ServerNodes, type ServerTasks } from "../../src/octopus/types.js";
import { createVerifyOctopusStep } from "../../src/steps/verify-octopus.js";
import type { StepContext } from "../../src/runner/step.js";
import { fakeClock } from "../helpers/fake-clock.js";

function otherNode(node: string): OctohaError {
  return new OctohaError(
    `Node ${node}'s URL (http://octo1:8080/api/octopusservernodes/ping) was answered by node OCTO1: it does not reach ${node} itself.`,
    {
      code: OTHER_NODE_ANSWERED,
      node,
    },
  );
}

function setup(wrong: { ping: boolean; read: boolean }) {
  const reads: string[] = [];
  const nodes = {
    ping: async (node: string): Promise<NodePing> => {
      if (node === "OCTO2" && wrong.ping) throw otherNode(node);
      return "online";
    },
  } as unknown as ServerNodes;
  const tasks = {
    readRawLog: async (id: string, node?: string) => {
      if (node === "OCTO2" && wrong.read) throw otherNode(node);
      reads.push(`${id}@${node}`);
      return "log";
    },
  } as unknown as ServerTasks;
  const inventory = {
    async *tasks() {
      yield { id: "ServerTasks-1" };
      yield { id: "ServerTasks-2" };
    },
  } as unknown as DatabaseInventory;
  const clock = fakeClock();
  const step = createVerifyOctopusStep({
    ports: { tasks, inventory, nodes },
    clock,
    nodeNames: ["OCTO1", "OCTO2"],
    sampleSize: 10,
    verifyAll: false,
  });
  const events: string[] = [];
  const ctx: StepContext = {
    runId: "r1",
    stepId: "verify-octopus",
    signal: new AbortController().signal,
    checkpoint: async () => undefined,
    emit: (e) => events.push(e.message),
    now: () => clock.now(),
  };
  return { step, ctx, reads, clock, events };
}

describe("verify-octopus when a node's URL reaches another node", () => {
  it("stops at the ping with that reason, without waiting for the node as if it were starting", async () => {
    const { step, ctx, clock, events } = setup({ ping: true, read: false });
    await expect(step.apply(ctx, undefined)).rejects.toMatchObject({ code: OTHER_NODE_ANSWERED, node: "OCTO2" });
    expect(clock.slept).toEqual([]);
    expect(events.filter((m) => m.startsWith("Waiting"))).toEqual([]);
  });

  it("stops at the read with that reason, not as one more failed read", async () => {
    const { step, ctx, reads } = setup({ ping: false, read: true });
    await expect(step.apply(ctx, undefined)).rejects.toMatchObject({ code: OTHER_NODE_ANSWERED, node: "OCTO2" });
    expect(reads).toEqual(["ServerTasks-1@OCTO1"]);
  });

  it("reads through both nodes when each URL reaches its own node", async () => {
    const { step, ctx, reads } = setup({ ping: false, read: false });
    await expect(step.apply(ctx, undefined)).resolves.toMatchObject({ checked: 4, failures: [] });
    expect(reads).toEqual(["ServerTasks-1@OCTO1", "ServerTasks-1@OCTO2", "ServerTasks-2@OCTO1", "ServerTasks-2@OCTO2"]);
  });
});
