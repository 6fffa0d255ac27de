/** The stand-in's HTTP API answers with Octopus's documented shapes and status codes (reference §2). */
import { readFileSync } from "node:fs";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DEFAULT_STARTUP_MS } from "../src/cluster.js";
import { NODE_PORTS } from "../src/http.js";
import { startTestStandin, type TestStandin } from "../src/testing/harness.js";

let s: TestStandin;
beforeEach(async () => {
  s = await startTestStandin();
});
afterEach(async () => {
  await s.close();
});

const get = (url: string, key?: string) => fetch(url, { headers: key ? { "X-Octopus-ApiKey": key } : {} });

describe("stand-in HTTP API", () => {
  it("refuses requests without the API key with 401 and an ErrorMessage, but answers ping and /api anonymously", async () => {
    const denied = await get(`${s.url}/api/maintenanceconfiguration`);
    expect(denied.status).toBe(401);
    expect(((await denied.json()) as { ErrorMessage: string }).ErrorMessage).toMatch(/API key/);
    expect((await get(`${s.url}/api/octopusservernodes/ping`)).status).toBe(200);
    const root = (await (await get(`${s.url}/api`)).json()) as { Version: string; Links: Record<string, string> };
    expect(root.Version).toBe(s.cluster.version);
    expect(root.Links.MaintenanceConfiguration).toBe("/api/maintenanceconfiguration");
  });

  it("answers 404 with an ErrorMessage for anything it does not simulate", async () => {
    const res = await get(`${s.url}/api/projects`, s.apiKey);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { ErrorMessage: string }).ErrorMessage).toMatch(/does not implement/);
  });

  it("names the answering node in the Octopus-Node header, round-robin behind the load-balanced URL", async () => {
    const answered = new Set<string | null>();
    for (let i = 0; i < 4; i++) answered.add((await get(`${s.url}/api/serverstatus`, s.apiKey)).headers.get("octopus-node"));
    expect([...answered].sort()).toEqual(["OCTO1", "OCTO2"]);
    expect((await get(`${s.nodes[1]!.url}/api/serverstatus`, s.apiKey)).headers.get("octopus-node")).toBe("OCTO2");
  });

  it("a node answers 503 for a while after its service starts, and the load balancer sends it nothing until then", async () => {
    const post = (p: string) =>
      fetch(`${s.controlUrl}/${p}`, { method: "POST", headers: { "X-Standin-Token": s.controlToken }, body: "{}" });
    await post("services/OCTO1/stop");
    await post("services/OCTO1/start");
    const starting = await get(`${s.nodes[0]!.url}/api/octopusservernodes/ping`);
    expect(starting.status).toBe(503);
    expect(((await starting.json()) as { ErrorMessage: string }).ErrorMessage).toMatch(/starting/);
    for (let i = 0; i < 4; i++) expect((await get(`${s.url}/api/serverstatus`, s.apiKey)).headers.get("octopus-node")).toBe("OCTO2");
    s.cluster.advance(2_000);
    expect((await get(`${s.nodes[0]!.url}/api/octopusservernodes/ping`)).status).toBe(200);
  });

  it("a draining node's ping answers 418 with the node JSON; its drain flag is IsInMaintenanceMode", async () => {
    s.cluster.updateNode("OCTO1", { isDraining: true });
    const res = await get(`${s.nodes[0]!.url}/api/octopusservernodes/ping`);
    expect(res.status).toBe(418);
    const body = (await res.json()) as { Name: string; IsInMaintenanceMode: boolean };
    expect(body).toMatchObject({ Name: "OCTO1", IsInMaintenanceMode: true });
    expect((await get(`${s.nodes[1]!.url}/api/octopusservernodes/ping`)).status).toBe(200);
  });

  it("/raw through the node that wrote a local log answers the text; through the other node it fails with 500", async () => {
    const id = s.cluster.queueTask().id;
    s.cluster.advance(0);
    const ranOn = s.cluster.task(id).serverNode!;
    const right = s.nodes.find((n) => n.name === ranOn)!;
    const wrong = s.nodes.find((n) => n.name !== ranOn)!;
    const ok = await get(`${right.url}/api/tasks/${id}/raw`, s.apiKey);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain(id);
    const missing = await get(`${wrong.url}/api/tasks/${id}/raw`, s.apiKey);
    expect(missing.status).toBe(500);
    expect(((await missing.json()) as { ErrorMessage: string }).ErrorMessage).toMatch(/error occurred reading the log file/);
  });

  it("pages task lists 30 at a time by default, with TotalResults and a Page.Next link", async () => {
    for (let i = 0; i < 35; i++) s.cluster.queueTask();
    const page = (await (await get(`${s.url}/api/tasks`, s.apiKey)).json()) as {
      Items: unknown[];
      TotalResults: number;
      ItemsPerPage: number;
      Links: Record<string, string>;
    };
    expect(page).toMatchObject({ TotalResults: 35, ItemsPerPage: 30 });
    expect(page.Items).toHaveLength(30);
    expect(page.Links["Page.Next"]).toBe("/api/tasks?skip=30&take=30");
  });

  it("system tasks are listed only with includeSystem=true; states= filters", async () => {
    s.cluster.queueTask({ isSystem: true });
    s.cluster.queueTask();
    const count = async (q: string) =>
      ((await (await get(`${s.url}/api/tasks?${q}`, s.apiKey)).json()) as { TotalResults: number }).TotalResults;
    expect(await count("active=true")).toBe(1);
    expect(await count("active=true&includeSystem=true")).toBe(2);
    expect(await count("states=Success&includeSystem=true")).toBe(0);
  });

  it("in maintenance mode a non-administrator cannot queue a task (403) while system tasks still queue", async () => {
    s.cluster.setMaintenanceMode(true);
    const res = await fetch(`${s.url}/api/tasks`, {
      method: "POST",
      headers: { "X-Octopus-ApiKey": s.userApiKey, "Content-Type": "application/json" },
      body: JSON.stringify({ Name: "Deploy" }),
    });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { ErrorMessage: string }).ErrorMessage).toMatch(/maintenance mode/);
    const ctl = await fetch(`${s.controlUrl}/tasks`, {
      method: "POST",
      headers: { "X-Standin-Token": s.controlToken },
      body: JSON.stringify({ isSystem: true }),
    });
    expect(ctl.status).toBe(201);
    const serverStatus = (await (await get(`${s.url}/api/serverstatus`, s.apiKey)).json()) as { IsInMaintenanceMode: boolean };
    expect(serverStatus.IsInMaintenanceMode).toBe(true);
  });

  it("a stopped node's own port refuses connections and the load balancer stops sending to it", async () => {
    s.cluster.stopNode("OCTO1");
    await s.http.settle();
    await expect(get(`${s.nodes[0]!.url}/api/octopusservernodes/ping`)).rejects.toThrow();
    for (let i = 0; i < 3; i++) expect((await get(`${s.url}/api/serverstatus`, s.apiKey)).headers.get("octopus-node")).toBe("OCTO2");
    const summary = (await (await get(`${s.url}/api/octopusservernodes/summary`, s.apiKey)).json()) as {
      Nodes: { Name: string; IsOffline: boolean }[];
    };
    expect(summary.Nodes.find((n) => n.Name === "OCTO1")?.IsOffline).toBe(true);
  });

  it("a node keeps its own port across a stop and a start, and it lies below the ports the kernel hands outgoing connections", async () => {
    const url = s.nodes[0]!.url;
    const port = Number(new URL(url).port);
    const ephemeralLow = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    expect(port).toBeLessThan(ephemeralLow);
    s.cluster.stopNode("OCTO1");
    await s.http.settle();
    // Outgoing connections while it is stopped take ephemeral ports: none of them can be this one.
    await Promise.all(Array.from({ length: 20 }, () => get(`${s.url}/api/serverstatus`, s.apiKey)));
    s.cluster.startNode("OCTO1");
    await s.http.settle();
    expect(s.nodes[0]!.url).toBe(url);
    await expect(get(`${url}/api/octopusservernodes/ping`)).resolves.toBeDefined();
  });

  it("a stopped node's port stays its own: a stand-in started meanwhile picks others, so nothing else answers on its URL", async () => {
    const url = s.nodes[0]!.url;
    const port = Number(new URL(url).port);
    s.cluster.stopNode("OCTO1");
    await s.http.settle();
    // Nothing listens on the port now. Another stand-in's nodes pick theirs at random: make its first two picks this one.
    const [low, high] = NODE_PORTS;
    const onPort = (port - low + 0.5) / (high - low);
    const random = vi.spyOn(Math, "random").mockReturnValueOnce(onPort).mockReturnValueOnce(onPort);
    let other: TestStandin;
    try {
      other = await startTestStandin();
    } finally {
      random.mockRestore();
    }
    try {
      expect(other.nodes.map((n) => Number(new URL(n.url).port))).not.toContain(port);
      // A caller asking the stopped node's URL still finds nothing there (a ping answered by another cluster said "running").
      await expect(get(`${url}/api/octopusservernodes/ping`)).rejects.toThrow();
      s.cluster.startNode("OCTO1");
      await s.http.settle();
      s.cluster.advance(DEFAULT_STARTUP_MS);
      expect((await get(`${url}/api/octopusservernodes/ping`)).headers.get("octopus-node")).toBe("OCTO1");
    } finally {
      await other.close();
    }
  });

  it("the control API wants its own token, not the API key", async () => {
    expect((await fetch(`${s.controlUrl}/state`, { headers: { "X-Standin-Token": "nope" } })).status).toBe(401);
    expect((await fetch(`${s.controlUrl}/state`, { headers: { "X-Octopus-ApiKey": s.apiKey } })).status).toBe(401);
    expect((await fetch(`${s.controlUrl}/state`, { headers: { "X-Standin-Token": s.controlToken } })).status).toBe(200);
  });

  it("PUT of a node with a wrong field type answers 400 and changes nothing", async () => {
    const res = await fetch(`${s.url}/api/octopusservernodes/OctopusServerNodes-OCTO1`, {
      method: "PUT",
      headers: { "X-Octopus-ApiKey": s.apiKey },
      body: JSON.stringify({ IsInMaintenanceMode: "yes" }),
    });
    expect(res.status).toBe(400);
    expect(s.cluster.node("OCTO1").isDraining).toBe(false);
  });
});

describe("stand-in snapshot", () => {
  it("with snapshot on, a restarted stand-in comes back with the same tasks and maintenance mode", async () => {
    const { startStandin } = await import("../src/standin.js");
    const dataDir = `${s.tmp}/snap`;
    const first = await startStandin({ dataDir, clock: "manual", sql: false, snapshot: true, seedTasks: 1 });
    first.cluster.setMaintenanceMode(true);
    const ids = first.cluster.tasks().map((t) => t.id);
    await first.close();
    const second = await startStandin({ dataDir, clock: "manual", sql: false, snapshot: true, seedTasks: 1 });
    try {
      expect(second.cluster.tasks().map((t) => t.id)).toEqual(ids);
      expect(second.cluster.isInMaintenanceMode).toBe(true);
    } finally {
      await second.close();
    }
  });
});
