import { describe, expect, it } from "vitest";
import { createFakeCluster } from "./fakes.js";

describe("in-memory Octopus fakes", () => {
  it("behave like the real ports: update returns the new node, isOn reflects set, a stopped node serves no log", async () => {
    const f = createFakeCluster();
    const updated = await f.ports.nodes.update("OctopusServerNodes-OCTO1", { isDraining: true, maxConcurrentTasks: 0 });
    expect(updated).toMatchObject({ name: "OCTO1", isDraining: true, maxConcurrentTasks: 0 });
    expect(await f.ports.nodes.ping("octo1")).toBe("draining");
    await f.ports.maintenance.set(true);
    expect(await f.ports.maintenance.isOn()).toBe(true);
    f.state.tasks.push({
      id: "ServerTasks-1",
      name: "Deploy",
      state: "Success",
      serverNode: "OCTO1",
      completedTime: "x",
      logVia: { OCTO1: "ok", OCTO2: "ok" },
    });
    await f.ports.services.stop("OCTO2");
    expect(await f.ports.tasks.readRawLog("ServerTasks-1", "OCTO1")).toBe("ok");
    await expect(f.ports.tasks.readRawLog("ServerTasks-1", "OCTO2")).rejects.toMatchObject({ code: "NODE_OFFLINE" });
    expect(f.writes().map((c) => `${c.port}.${c.method}`)).toEqual(["nodes.update", "maintenance.set", "services.stop"]);
  });

  it("a version without a folder kind refuses to write it", async () => {
    const f = createFakeCluster(undefined, { unsupportedPathKeys: new Set(["eventExports"]) });
    await expect(f.ports.folders.write({ eventExports: "\\\\fs\\E" })).rejects.toMatchObject({ code: "PATH_OPTION_UNSUPPORTED" });
    expect((await f.ports.folders.read()).stored.eventExports).toBeUndefined();
  });
});
