/**
 * Every simulated node is its own machine: its Octopus.Server knows only that machine's instances, its
 * service goes through STOP_PENDING / START_PENDING, and a machine can be unreachable or deny access.
 */
import { afterEach, describe, expect, it } from "vitest";
import { startTestStandin, type TestStandin } from "../src/testing/harness.js";
import { standinMachines } from "../src/machine-client.js";
import type { InstalledService, ServiceState, StandinOptions } from "../src/index.js";
import { exe } from "./exe.js";

const open: TestStandin[] = [];
afterEach(async () => {
  while (open.length) await open.pop()!.close();
});

async function standin(options: Partial<StandinOptions> = {}): Promise<TestStandin> {
  const s = await startTestStandin(options);
  open.push(s);
  return s;
}

/** The node's own port: "refused" once its service stopped, else the HTTP status. */
async function ping(s: TestStandin, node: number): Promise<number | "refused"> {
  try {
    return (await fetch(`${s.nodes[node]!.url}/api/octopusservernodes/ping`)).status;
  } catch {
    return "refused";
  }
}

async function control(
  s: TestStandin,
  method: "GET" | "POST",
  p: string,
  body: unknown = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${s.controlUrl}/${p}`, {
    method,
    headers: { "X-Standin-Token": s.controlToken },
    body: method === "POST" ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function services(s: TestStandin, host: string): Promise<InstalledService[]> {
  const r = await control(s, "GET", `machines/${host}/services`);
  expect(r.status).toBe(200);
  return r.body.services as InstalledService[];
}

async function waitForState(s: TestStandin, host: string, state: ServiceState): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ((await services(s, host))[0]!.state !== state) {
    if (Date.now() > deadline) throw new Error(`${host} never reached ${state}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("stand-in machines", () => {
  it("a machine's Octopus.Server refuses an instance not installed there, and the node named like it keeps running", async () => {
    const s = await standin();
    const r = await exe(s.nodes[0]!.serverExe, ["service", "--stop", "--instance=OCTO2"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("Instance OCTO2 of OctopusServer has not been configured on this machine. Available instances: OctopusServer.\n");
    const all = await exe(s.nodes[0]!.serverExe, ["service", "--stop", "--instance=*"]);
    expect(all.code).toBe(1);
    expect(all.stderr).toMatch(/--instance \* .* is not simulated/);
    expect(s.cluster.nodes().map((n) => n.running)).toEqual([true, true]);
    expect(await ping(s, 1)).toBe(200);
  });

  it("OCTO2's Octopus.Server stops and starts OCTO2 only, and returns once the service is STOPPED / RUNNING", async () => {
    const s = await standin();
    const stop = await exe(s.nodes[1]!.serverExe, ["service", "--stop", "--instance=OctopusServer"]);
    expect(stop).toMatchObject({ code: 0, stdout: "Stopping service OctopusDeploy\nService stopped\n" });
    expect((await services(s, "OCTO2"))[0]).toEqual({
      service: "OctopusDeploy",
      instance: "OctopusServer",
      state: "STOPPED",
      node: "OCTO2",
    });
    expect(await ping(s, 1)).toBe("refused");
    expect(await ping(s, 0)).toBe(200);
    expect((await services(s, "OCTO1"))[0]!.state).toBe("RUNNING");
    // Stopping it again is harmless, as with the real tool.
    expect((await exe(s.nodes[1]!.serverExe, ["service", "--stop"])).code).toBe(0);
    expect((await exe(s.nodes[1]!.serverExe, ["service", "--start"])).code).toBe(0);
    expect(s.cluster.node("OCTO2").running).toBe(true);
    expect((await services(s, "OCTO2"))[0]!.state).toBe("RUNNING");
  });

  it("a service-manager stop returns at STOP_PENDING while the node still answers, then it is STOPPED and its port closed", async () => {
    const s = await standin({ servicePendingMs: 1_500 });
    const stop = await control(s, "POST", "machines/octo2/services/OctopusDeploy/stop");
    expect(stop).toMatchObject({ status: 200, body: { service: "OctopusDeploy", state: "STOP_PENDING", node: "OCTO2" } });
    expect((await services(s, "OCTO2"))[0]!.state).toBe("STOP_PENDING");
    expect(await control(s, "GET", "machines/OCTO2/services/octopusdeploy")).toMatchObject({
      status: 200,
      body: { service: "OctopusDeploy", state: "STOP_PENDING" },
    });
    // Not stopped yet: a recipe that does not poll sees the node still up.
    expect(await ping(s, 1)).toBe(200);
    const again = await control(s, "POST", "machines/OCTO2/services/OctopusDeploy/stop");
    expect(again).toMatchObject({ status: 409, body: { code: "cannotAcceptControl", win32Error: 1061 } });
    await waitForState(s, "OCTO2", "STOPPED");
    expect(await ping(s, 1)).toBe("refused");
    expect(await control(s, "POST", "machines/OCTO2/services/OctopusDeploy/stop")).toMatchObject({
      status: 409,
      body: { code: "serviceNotActive", win32Error: 1062 },
    });
    const start = await control(s, "POST", "machines/OCTO2/services/OctopusDeploy/start");
    expect(start.body.state).toBe("START_PENDING");
    expect(await ping(s, 1)).toBe("refused");
    await waitForState(s, "OCTO2", "RUNNING");
    expect(s.cluster.node("OCTO2").running).toBe(true);
    expect(await control(s, "POST", "machines/OCTO2/services/OctopusDeploy/start")).toMatchObject({
      status: 409,
      body: { code: "serviceAlreadyRunning", win32Error: 1056 },
    });
    expect(await control(s, "POST", "machines/OCTO2/services/OctopusDeploy%3A%20OctopusServer/stop")).toMatchObject({
      status: 404,
      body: { code: "serviceDoesNotExist", win32Error: 1060 },
    });
    expect(await control(s, "GET", "machines/OCTO2/services/OctopusDeploy%3A%20Prod")).toMatchObject({
      status: 404,
      body: { code: "serviceDoesNotExist", win32Error: 1060 },
    });
    expect(await control(s, "GET", "machines/OCTO9/services")).toMatchObject({ status: 404, body: { code: "unknownHost" } });
  });

  it("path from OCTO2's Octopus.Server changes the cluster-wide setting OCTO1's show-configuration reads", async () => {
    const s = await standin();
    const set = await exe(s.nodes[1]!.serverExe, ["path", "--instance=OctopusServer", "--taskLogs=\\\\fs01\\OctopusShared\\TaskLogs"]);
    expect(set.code).toBe(0);
    const shown = await exe(s.nodes[0]!.serverExe, ["show-configuration", "--format=json", "--noconsolelogging"]);
    const config = JSON.parse(shown.stdout) as Record<string, string>;
    expect(config["Octopus.Folders.LogDirectory"]).toBe("\\\\fs01\\OctopusShared\\TaskLogs");
    expect(config["Octopus.Server.NodeName"]).toBe("OCTO1");
    // Cluster-wide, but still through a local instance.
    const wrong = await exe(s.nodes[1]!.serverExe, ["path", "--instance=OCTO1", "--taskLogs=\\\\x\\TaskLogs"]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^Instance OCTO1 of OctopusServer has not been configured on this machine/);
    expect(s.cluster.state().folders.taskLogs).toBe("\\\\fs01\\OctopusShared\\TaskLogs");
  });

  it("a named instance: its service is 'OctopusDeploy: <name>', and --instance must name it (any case)", async () => {
    const s = await standin({ instances: { OCTO2: ["Prod"] } });
    expect(s.nodes.map((n) => n.instances)).toEqual([["OctopusServer"], ["Prod"]]);
    expect(await services(s, "OCTO2")).toEqual([{ service: "OctopusDeploy: Prod", instance: "Prod", state: "RUNNING", node: "OCTO2" }]);
    const wrong = await exe(s.nodes[1]!.serverExe, ["service", "--stop", "--instance=OctopusServer"]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(
      /Instance OctopusServer of OctopusServer has not been configured on this machine\. Available instances: Prod\./,
    );
    expect(s.cluster.node("OCTO2").running).toBe(true);
    const stop = await exe(s.nodes[1]!.serverExe, ["service", "--stop", "--instance=prod"]);
    expect(stop).toMatchObject({ code: 0, stdout: "Stopping service OctopusDeploy: Prod\nService stopped\n" });
    expect(s.cluster.node("OCTO2").running).toBe(false);
    // The only instance is picked without --instance.
    expect((await exe(s.nodes[1]!.serverExe, ["service", "--start"])).code).toBe(0);
    expect(s.cluster.node("OCTO2").running).toBe(true);
  });

  it("a machine with two instances: no default means --instance is required; the other instance's service is not the node", async () => {
    const s = await standin({ instances: { OCTO1: ["Blue", "Green"] } });
    const none = await exe(s.nodes[0]!.serverExe, ["service", "--stop"]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(
      /There is more than one instance of OctopusServer configured on this machine.*Available instances: Blue, Green\./,
    );
    expect(await services(s, "OCTO1")).toEqual([
      { service: "OctopusDeploy: Blue", instance: "Blue", state: "RUNNING", node: "OCTO1" },
      { service: "OctopusDeploy: Green", instance: "Green", state: "RUNNING" },
    ]);
    expect((await exe(s.nodes[0]!.serverExe, ["service", "--stop", "--instance=Green"])).code).toBe(0);
    expect((await services(s, "OCTO1")).map((x) => x.state)).toEqual(["RUNNING", "STOPPED"]);
    expect(s.cluster.node("OCTO1").running).toBe(true);
    const path = await exe(s.nodes[0]!.serverExe, ["path", "--instance=Green", "--taskLogs=\\\\x\\TaskLogs"]);
    expect(path.code).toBe(1);
    expect(path.stderr).toMatch(/Green on OCTO1 is not part of the simulated cluster/);
  });

  it("instances naming no node, or an empty list, are refused at start", async () => {
    await expect(standin({ instances: { OCTO7: ["X"] } })).rejects.toThrow(/OCTO7.*not a node/);
    await expect(standin({ instances: { OCTO1: [] } })).rejects.toThrow(/instances\.OCTO1 is empty/);
  });

  it("an unreachable machine answers 1722 and access denied 5, through the route and its Octopus.Server; the node keeps running", async () => {
    const s = await standin();
    expect(await control(s, "POST", "machines/OCTO2/faults", { unreachable: true })).toMatchObject({
      status: 200,
      body: { host: "OCTO2", faults: { unreachable: true } },
    });
    expect(await control(s, "GET", "machines/OCTO2/services")).toMatchObject({
      status: 503,
      body: { code: "unreachable", win32Error: 1722 },
    });
    expect(await control(s, "POST", "machines/OCTO2/services/OctopusDeploy/stop")).toMatchObject({
      status: 503,
      body: { win32Error: 1722 },
    });
    const down = await exe(s.nodes[1]!.serverExe, ["service", "--stop"]);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/machine OCTO2 is unreachable/);
    expect(await ping(s, 1)).toBe(200);

    await control(s, "POST", "machines/OCTO2/faults", { unreachable: false, accessDenied: true });
    expect(await control(s, "GET", "machines/OCTO2/services")).toMatchObject({
      status: 403,
      body: { code: "accessDenied", win32Error: 5 },
    });
    const denied = await exe(s.nodes[1]!.serverExe, ["service", "--stop"]);
    expect(denied.code).toBe(42);
    expect(denied.stderr).toMatch(/security exception.*Administrator/);
    expect(s.cluster.node("OCTO2").running).toBe(true);
    expect((await services(s, "OCTO1"))[0]!.state).toBe("RUNNING");

    await control(s, "POST", "machines/OCTO2/faults", { accessDenied: false });
    expect((await exe(s.nodes[1]!.serverExe, ["service", "--stop"])).code).toBe(0);
    expect(s.cluster.node("OCTO2").running).toBe(false);
  });

  it("a slow machine stays STOP_PENDING as long as its pendingMs says", async () => {
    const s = await standin();
    s.machines.setFaults("OCTO1", { pendingMs: 60_000 });
    expect(s.machines.control("OCTO1", "OctopusDeploy", "stop").state).toBe("STOP_PENDING");
    await new Promise((r) => setTimeout(r, 500));
    expect(s.machines.services("OCTO1")[0]!.state).toBe("STOP_PENDING");
    expect(s.cluster.node("OCTO1").running).toBe(true);
  });

  it("the machine-less Octopus.Server is the local machine's: the first node's by default, or localMachine's", async () => {
    const first = await standin();
    expect(first.localMachine).toBe("OCTO1");
    expect((await exe(first.serverExe, ["service", "--stop"])).code).toBe(0);
    expect(first.cluster.nodes().map((n) => n.running)).toEqual([false, true]);

    const second = await standin({ localMachine: "octo2" });
    expect(second.localMachine).toBe("OCTO2");
    expect((await exe(second.serverExe, ["service", "--stop"])).code).toBe(0);
    expect(second.cluster.nodes().map((n) => n.running)).toEqual([true, false]);
    const client = standinMachines({ OCTOHA_STANDIN_CONTROL: second.controlFile });
    expect(client.localMachine).toBe("OCTO2");
    expect((await client.services("OCTO2"))[0]!.state).toBe("STOPPED");
    expect(standinMachines({ OCTOHA_STANDIN_CONTROL: second.controlFile, OCTOHA_STANDIN_MACHINE: "OCTO1" }).localMachine).toBe("OCTO1");
  });
});
