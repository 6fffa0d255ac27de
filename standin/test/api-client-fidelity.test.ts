/**
 * Fidelity check: Octopus's own TypeScript client (@octopusdeploy/api-client 3.11.0, the last to
 * install cleanly on Node 20 here) connects to the stand-in and reads what octoha reads.
 */
import { Client, SpaceServerTaskRepository, type ServerTask } from "@octopusdeploy/api-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStandin, type TestStandin } from "../src/testing/harness.js";

let s: TestStandin;
beforeAll(async () => {
  s = await startTestStandin({ seedTasks: 2 });
});
afterAll(async () => {
  await s.close();
});

async function client(): Promise<Client> {
  return Client.create({ instanceURL: s.url, apiKey: s.apiKey, userAgentApp: "octoha-fidelity-test" });
}

describe("@octopusdeploy/api-client against the stand-in", () => {
  it("connects (Client.create reads /api and its Version)", async () => {
    const c = await client();
    expect((await c.getServerInformation()).version).toBe(s.cluster.version);
  });

  it("reads maintenance mode and the node summary", async () => {
    s.cluster.setMaintenanceMode(true);
    const c = await client();
    const maintenance = await c.get<{ IsInMaintenanceMode: boolean }>("~/api/maintenanceconfiguration");
    expect(maintenance.IsInMaintenanceMode).toBe(true);
    const summary = await c.get<{ Nodes: { Name: string; RunningTaskCount: number }[] }>("~/api/octopusservernodes/summary");
    expect(summary.Nodes.map((n) => n.Name)).toEqual(["OCTO1", "OCTO2"]);
    s.cluster.setMaintenanceMode(false);
  });

  it("reads tasks: the cross-space list, one task and its raw log through the space repository", async () => {
    const c = await client();
    const list = await c.get<{ Items: ServerTask[]; TotalResults: number }>("~/api/tasks{?skip,take,states,includeSystem}", {
      skip: 0,
      take: 100,
      states: "Success,Failed",
      includeSystem: true,
    });
    expect(list.TotalResults).toBe(4);
    const first = list.Items[0]!;
    const tasks = new SpaceServerTaskRepository(c, "Default");
    const one = await tasks.getById(first.Id);
    expect(one.State).toBe(first.State);
    const ranOn = s.cluster.task(first.Id).serverNode!;
    const direct = await Client.create({
      instanceURL: s.nodes.find((n) => n.name === ranOn)!.url,
      apiKey: s.apiKey,
      userAgentApp: "octoha-fidelity-test",
    });
    expect(await new SpaceServerTaskRepository(direct, "Default").getRaw(first.Id)).toContain(first.Id);
  });
});
