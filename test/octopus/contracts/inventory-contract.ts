/**
 * Behaviours every DatabaseInventory must have, whatever is behind it (the mssql adapter through
 * the TDS stand-in, an in-memory fake, a real SQL Server). The factory gets the ClusterState the
 * inventory must reflect and returns the inventory plus its clean-up.
 */
import { afterEach, describe, expect, test } from "vitest";
import type { DatabaseInventory, TaskRow } from "../../../src/octopus/types.js";
import type { ClusterState } from "@octoha/standin";
import { makeClusterState } from "@octoha/standin/testing";

export interface InventoryUnderTest {
  inventory: DatabaseInventory;
  cleanup(): Promise<void>;
}

export type MakeInventory = (seed: ClusterState) => Promise<InventoryUnderTest>;

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

export function describeInventoryContract(name: string, makeInventory: MakeInventory): void {
  describe(`DatabaseInventory contract: ${name}`, () => {
    let current: InventoryUnderTest | undefined;
    const open = async (seed: ClusterState): Promise<DatabaseInventory> => {
      current = await makeInventory(seed);
      return current.inventory;
    };
    afterEach(async () => {
      await current?.cleanup();
      current = undefined;
    });

    for (const schema of ["3.x", "2018+"] as const) {
      describe(`schema ${schema}`, () => {
        test("the probe names the column that says which node ran a task", async () => {
          const inv = await open(makeClusterState({ schema }));
          const shape = await inv.probe();
          expect(shape.taskNodeColumn).toBe(schema === "3.x" ? "ServerNode" : "ServerNodeId");
          expect(shape.nodeTable).toBe("OctopusServerNode");
          expect(shape.hasNuGetPackage).toBe(true);
          expect(shape.hasSpaceId).toBe(schema === "2018+");
        });

        test("every task is listed exactly once, in Id order, with the node as the database stores it", async () => {
          const seed = makeClusterState({ schema, tasks: 23 });
          const inv = await open(seed);
          const rows = await collect(inv.tasks());
          const ids = rows.map((r) => r.id);
          expect(ids).toEqual(seed.tasks.map((t) => t.id).sort());
          const byId = new Map(rows.map((r) => [r.id, r] as [string, TaskRow]));
          for (const t of seed.tasks) {
            const row = byId.get(t.id)!;
            expect(row.state).toBe(t.state);
            expect(row.completedTime).toBe(t.completedTime);
            const node = seed.nodes.find((n) => n.name === t.serverNode);
            expect(row.serverNode).toBe(t.serverNode === null ? null : schema === "3.x" ? t.serverNode : node!.id);
          }
        });

        test("completedOnly leaves out tasks that are still queued or running", async () => {
          const seed = makeClusterState({ schema, tasks: 12 });
          const inv = await open(seed);
          const rows = await collect(inv.tasks({ completedOnly: true }));
          expect(rows.map((r) => r.id).sort()).toEqual(
            seed.tasks
              .filter((t) => t.completedTime !== null)
              .map((t) => t.id)
              .sort(),
          );
          expect(rows.every((r) => r.completedTime !== null)).toBe(true);
        });

        test("every package the built-in feed indexes is listed", async () => {
          const seed = makeClusterState({ schema, packages: 4 });
          const inv = await open(seed);
          const rows = await collect(inv.packages());
          expect(rows.map((r) => `${r.packageId}@${r.version}`).sort()).toEqual(
            seed.packages.map((p) => `${p.packageId}@${p.version}`).sort(),
          );
          expect(rows.map((r) => r.id).sort()).toEqual(seed.packages.map((p) => p.id).sort());
        });

        test("nodes come with their task cap and drain flag", async () => {
          const seed = makeClusterState({ schema, nodes: ["OCTO1", "OCTO2", "OCTO3"] });
          const inv = await open(seed);
          const nodes = await inv.nodes();
          expect(nodes.map((n) => n.name).sort()).toEqual(["OCTO1", "OCTO2", "OCTO3"]);
          for (const n of seed.nodes) {
            const row = nodes.find((x) => x.name === n.name)!;
            expect(row.id).toBe(schema === "3.x" ? n.name : n.id);
            expect(row.maxConcurrentTasks).toBe(n.maxConcurrentTasks);
            expect(row.isDraining).toBe(n.isDraining);
          }
        });
      });
    }

    test("an empty database yields no tasks and no packages, without error", async () => {
      const inv = await open(makeClusterState({ tasks: 0, packages: 0 }));
      expect(await collect(inv.tasks())).toEqual([]);
      expect(await collect(inv.packages())).toEqual([]);
    });

    test("connectionInfo says whether the connection is encrypted and which database it reads", async () => {
      const inv = await open(makeClusterState());
      const info = await inv.connectionInfo();
      expect(typeof info.encrypted).toBe("boolean");
      expect(info.database.length).toBeGreaterThan(0);
    });
  });
}
