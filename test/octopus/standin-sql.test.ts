/**
 * `octoha standin` is one cluster seen three ways: what the HTTP API and the disk show, the SQL
 * endpoint shows too, through the real mssql driver and octoha's read-only inventory adapter.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createInventory } from "../../src/octopus/sql/inventory.js";
import type { TaskRow } from "../../src/octopus/types.js";
import { startTestStandin, type TestStandin } from "@octoha/standin/testing";

let standin: TestStandin | undefined;
afterEach(async () => {
  await standin?.close();
  standin = undefined;
});

async function all<T>(rows: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const r of rows) out.push(r);
  return out;
}

describe("the stand-in's SQL endpoint", () => {
  it("lists over TDS the tasks and packages the simulated cluster seeded, with the node that ran each", async () => {
    standin = await startTestStandin({ sql: true, version: "2024.2.1000" });
    const seeded = standin.cluster.seedHistory({ tasksPerNode: 5, packagesPerNode: 2 });
    expect(standin.sqlConnectionString).toBeTruthy();
    const inventory = createInventory(standin.sqlConnectionString!);
    try {
      const shape = await inventory.probe();
      expect(shape.taskNodeColumn).toBe("ServerNodeId");
      const tasks: TaskRow[] = await all(inventory.tasks());
      expect(tasks.map((t) => t.id).sort()).toEqual(seeded.tasks.map((t) => t.id).sort());
      const nodes = await inventory.nodes();
      for (const t of tasks) {
        const sim = seeded.tasks.find((s) => s.id === t.id)!;
        const node = nodes.find((n) => n.id === t.serverNode || n.name === t.serverNode);
        expect(node?.name).toBe(sim.serverNode);
      }
      expect((await all(inventory.packages())).length).toBe(standin.cluster.state().packages.length);
    } finally {
      await inventory.close();
    }
  });

  it("drops connections when told to, and the inventory's retry still reads every task once", async () => {
    standin = await startTestStandin({ sql: true });
    standin.cluster.seedHistory({ tasksPerNode: 20 });
    standin.setSqlFaults!({ dropConnectionAfterRows: 3, dropNextConnections: 1 });
    const inventory = createInventory(standin.sqlConnectionString!);
    try {
      const ids = (await all(inventory.tasks())).map((t) => t.id);
      expect(new Set(ids).size).toBe(40);
      expect(ids.length).toBe(40);
    } finally {
      await inventory.close();
    }
  });
});
