/**
 * The REST adapters under the stand-in's fault knobs: 5xx storms, latency, connection resets, wrong
 * keys, missing permissions, stopped and draining nodes. Every error names where and says what to do;
 * none carries the API key.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  OctopusApiError,
  OctopusHttpClient,
  RestServerNodes,
  createRestPorts,
  type OctopusClientOptions,
} from "../../src/octopus/rest/index.js";
import { realClock } from "../../src/shared/clock.js";
import { OctohaError, isRetryable } from "../../src/shared/errors.js";
import { fakeClock } from "../helpers/fake-clock.js";
import { nodeUrls, startTestStandin, type TestStandin } from "@octoha/standin/testing";

let s: TestStandin;
const seen: unknown[] = [];
beforeEach(async () => {
  s = await startTestStandin();
});
afterEach(async () => {
  // Redaction: whatever went wrong in a test, the key is in none of its error texts.
  for (const e of seen.splice(0)) expectNoKey(e, s.apiKey);
  await s.close();
});

function ports(extra: Partial<OctopusClientOptions> = {}) {
  const budget = { backoffMs: 5, timeoutMs: 2000, attempts: 3, clock: fakeClock() };
  return createRestPorts({ serverUrl: s.url, apiKey: s.apiKey, nodeUrls: nodeUrls(s), ...budget, ...extra });
}

async function failure(p: Promise<unknown>): Promise<OctohaError> {
  try {
    await p;
  } catch (error) {
    seen.push(error);
    expect(error).toBeInstanceOf(OctohaError);
    return error as OctohaError;
  }
  throw new Error("expected a failure");
}

function expectNoKey(error: unknown, key: string): void {
  const texts: string[] = [];
  for (let e: unknown = error, i = 0; e && i < 8; e = (e as { cause?: unknown }).cause, i++) {
    texts.push(String(e), (e as Error).message ?? "", (e as Error).stack ?? "");
    if (e instanceof OctohaError) texts.push(e.describe(), e.hint ?? "", JSON.stringify({ ...e }));
  }
  for (const t of texts) expect(t).not.toContain(key);
}

describe("REST adapters under faults", () => {
  it("the run's abort signal ends a 5xx storm's backoff at once: the request rejects as an interruption (exit 3), not after every attempt", async () => {
    s.http.setFaults("lb", { errorRate: 1, errorStatus: 503 });
    const stop = new AbortController();
    const started = Date.now();
    setTimeout(() => stop.abort(), 200);
    // Without the signal this takes at least 2 + 4 + 8 s of backoff.
    const e = await failure(ports({ backoffMs: 2000, attempts: 4, signal: stop.signal, clock: realClock }).maintenance.isOn());
    expect(Date.now() - started).toBeLessThan(1500);
    expect(e).toMatchObject({ code: "INTERRUPTED", exitCode: 3 });
    expect(e).not.toBeInstanceOf(OctopusApiError);
  });

  it("an aborted ping is an interruption, not an offline node", async () => {
    s.http.setFaults(s.cluster.nodes()[0]!.name, { latencyMs: 3_000 });
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 200);
    const nodes = ports({ signal: stop.signal, timeoutMs: 20_000 }).nodes;
    expect(await failure(nodes.ping(s.cluster.nodes()[0]!.name))).toMatchObject({ code: "INTERRUPTED" });
  });
  it("a short 5xx storm is retried away", async () => {
    s.http.setFaults("lb", { failNext: 2 });
    expect(await ports().maintenance.isOn()).toBe(false);
  });

  it("a 5xx storm that does not end surfaces as a retryable error naming the URL and the attempts", async () => {
    s.http.setFaults("lb", { failNext: 100, errorStatus: 502 });
    const e = await failure(ports().maintenance.set(true));
    expect(e.code).toBe("OCTOPUS_API_UNAVAILABLE");
    expect(isRetryable(e)).toBe(true);
    expect(e.message).toContain(s.url);
    expect(e.message).toMatch(/502.*gave up after 3 attempts/);
    expect(s.cluster.isInMaintenanceMode).toBe(false);
  });

  it("a request's retries back off from 500 ms, doubling, with ±25 % jitter, within its default budget of 4 attempts", async () => {
    s.http.setFaults("lb", { failNext: 100, errorStatus: 503 });
    const clock = fakeClock();
    const e = await failure(createRestPorts({ serverUrl: s.url, apiKey: s.apiKey, clock }).maintenance.isOn());
    expect(e.message).toMatch(/503.*gave up after 4 attempts/);
    expect(clock.slept).toHaveLength(3);
    clock.slept.forEach((ms, i) => {
      expect(ms).toBeGreaterThanOrEqual(500 * 2 ** i * 0.75);
      expect(ms).toBeLessThanOrEqual(500 * 2 ** i * 1.25);
    });
  });

  it("a server slower than the timeout fails with a timeout error after its retries", async () => {
    s.http.setFaults("lb", { latencyMs: 400 });
    const e = await failure(ports({ timeoutMs: 100, attempts: 2 }).version.serverVersion());
    expect(e.code).toBe("OCTOPUS_API_TIMEOUT");
    expect(e.message).toMatch(/timed out after 100 ms/);
  });

  it("latency within the timeout is only slower", async () => {
    s.http.setFaults("lb", { latencyMs: 100 });
    expect(await ports().version.serverVersion()).toBe(s.cluster.version);
  });

  it("a reset connection is retried; resets that continue surface as unreachable", async () => {
    s.http.setFaults("lb", { resetNext: 1 });
    expect((await ports().nodes.list()).length).toBe(2);
    s.http.setFaults("lb", { resetNext: 10 });
    const e = await failure(ports().nodes.list());
    expect(e.code).toBe("OCTOPUS_API_UNREACHABLE");
    expect(e.hint).toMatch(/connection failed or was reset/);
  });

  it("a wrong API key fails at once with 401 and says to check the key and AdministerSystem", async () => {
    const e = await failure(createRestPorts({ serverUrl: s.url, apiKey: "API-WRONGKEYWRONGKEYWRONG1", backoffMs: 5 }).maintenance.isOn());
    expect(e.code).toBe("OCTOPUS_API_UNAUTHORIZED");
    expect(e.hint).toMatch(/AdministerSystem/);
    expect(e.describe()).not.toContain("API-WRONGKEYWRONGKEYWRONG1");
  });

  it("a key without AdministerSystem cannot switch maintenance mode: 403 with the permission named", async () => {
    const e = await failure(createRestPorts({ serverUrl: s.url, apiKey: s.userApiKey, backoffMs: 5 }).maintenance.set(true));
    expect(e.code).toBe("OCTOPUS_API_FORBIDDEN");
    expect(e.message).toMatch(/AdministerSystem/);
    expectNoKey(e, s.userApiKey);
  });

  it("raw log through the wrong node fails once (no retry storm) with a 'continue' error that explains scattered logs", async () => {
    const id = s.cluster.queueTask().id;
    s.cluster.advance(0);
    const wrong = s.cluster.nodes().find((n) => n.name !== s.cluster.task(id).serverNode)!.name;
    let calls = 0;
    const counting: typeof fetch = (input, init) => {
      calls++;
      return fetch(input, init);
    };
    const e = await failure(ports({ fetch: counting }).tasks.readRawLog(id, wrong));
    expect(calls).toBe(1);
    expect(e.code).toBe("OCTOPUS_TASK_LOG_UNREADABLE");
    expect(e.behaviour).toBe("continue");
    expect(e.node).toBe(wrong);
    expect(e.hint).toMatch(/shared storage/);
  });

  it("ping says offline for a stopped node and draining for a draining one", async () => {
    const p = ports();
    s.cluster.updateNode("OCTO2", { isDraining: true });
    s.cluster.stopNode("OCTO1");
    await s.http.settle();
    expect(await p.nodes.ping("OCTO1")).toBe("offline");
    expect(await p.nodes.ping("OCTO2")).toBe("draining");
  });

  it("a node's URL that another node answers is refused, never taken for that node (the ping's Name, the Octopus-Node header)", async () => {
    const id = s.cluster.queueTask().id;
    s.cluster.advance(0);
    const ranOn = s.cluster.task(id).serverNode!;
    const other = s.cluster.nodes().find((n) => n.name !== ranOn)!.name;
    const urls = nodeUrls(s);
    // `other`'s URL mistyped as the node that wrote the log: a read there would succeed, through the wrong node.
    const p = ports({ nodeUrls: { ...urls, [other]: urls[ranOn]! } });
    const ping = await failure(p.nodes.ping(other));
    expect(ping.code).toBe("OCTOPUS_NODE_URL_OTHER_NODE");
    expect(ping.message).toBe(
      `Node ${other}'s URL (${urls[ranOn]}/api/octopusservernodes/ping) was answered by node ${ranOn}: it does not reach ${other} itself.`,
    );
    expect(ping.hint).toContain(`nodes[].url for ${other}`);
    const read = await failure(p.tasks.readRawLog(id, other));
    expect(read.code).toBe("OCTOPUS_NODE_URL_OTHER_NODE");
    expect(read.message).toContain(`was answered by node ${ranOn}`);
    // Without the header (a proxy that drops it), the ping's body still names the node that answered.
    const headerless: typeof fetch = async (input, init) => {
      const r = await fetch(input, init);
      const headers = new Headers(r.headers);
      headers.delete("octopus-node");
      return new Response(await r.text(), { status: r.status, headers });
    };
    const checkCommand = 'octoha check "/srv/my plans/prod plan.json"';
    const byName = await failure(
      ports({ nodeUrls: { ...urls, [other]: urls[ranOn]! }, fetch: headerless, checkCommand }).nodes.ping(other),
    );
    expect(byName.code).toBe("OCTOPUS_NODE_URL_OTHER_NODE");
    // Its hint names the command that checks the plan the operator gave (never a literal PLAN).
    expect(byName.hint).toContain(`then run \`${checkCommand}\`.`);
    expect(ping.hint).not.toContain("PLAN");
    // The node's own URL answers as it should.
    expect(await p.nodes.ping(ranOn)).toBe("online");
    expect(await p.tasks.readRawLog(id, ranOn)).toEqual(expect.any(String));
  });

  it("ping of a node without a known URL says how to give one", async () => {
    const p = createRestPorts({ serverUrl: s.url, apiKey: s.apiKey });
    const e = await failure(p.nodes.ping("OCTO1"));
    expect(e.code).toBe("OCTOPUS_NODE_URL_MISSING");
    expect(e.hint).toMatch(/nodes\[\]\.url/);
  });

  it("lists every active task across pages, system tasks included", async () => {
    for (let i = 0; i < 130; i++) s.cluster.queueTask({ isSystem: i % 10 === 0 });
    const active = await ports().tasks.listActive();
    expect(active).toHaveLength(130);
    expect(new Set(active.map((t) => t.id)).size).toBe(130);
  });

  it("on a server older than 2019 (no /summary) the node list still comes back, without running counts", async () => {
    await s.close();
    s = await startTestStandin({ version: "2018.10.5" });
    const nodes = await ports().nodes.list();
    expect(nodes.map((n) => n.name)).toEqual(["OCTO1", "OCTO2"]);
    expect(nodes[0]!.runningTaskCount).toBeUndefined();
  });

  it("cancelling an executing task moves it to Cancelling, then Canceled", async () => {
    const id = s.cluster.queueTask().id;
    s.cluster.advance(0);
    await ports().tasks.cancel(id);
    expect(s.cluster.task(id).state).toBe("Cancelling");
    s.cluster.advance(0);
    expect(s.cluster.task(id).state).toBe("Canceled");
  });

  it("an API key is required to build a client", () => {
    expect(() => new OctopusHttpClient({ serverUrl: s.url, apiKey: "" })).toThrow(OctohaError);
    try {
      new OctopusHttpClient({ serverUrl: s.url, apiKey: "" });
    } catch (error) {
      expect((error as OctohaError).hint).toMatch(/OCTOPUS_API_KEY/);
    }
  });

  it("update reports a 404 for an unknown node as a fatal error with a hint", async () => {
    const nodes = new RestServerNodes(new OctopusHttpClient({ serverUrl: s.url, apiKey: s.apiKey, backoffMs: 5 }));
    const e = await failure(nodes.update("OctopusServerNodes-GHOST", { isDraining: true }));
    expect(e).toBeInstanceOf(OctopusApiError);
    expect(e.code).toBe("OCTOPUS_API_NOT_FOUND");
    expect(e.behaviour).toBe("fatal");
  });

  it("a fault on one node's own listener leaves the other node and the load balancer alone", async () => {
    s.http.setFaults("OCTO1", { failNext: 100 });
    const p = ports();
    expect(await p.nodes.ping("OCTO1")).toBe("offline");
    expect(await p.nodes.ping("OCTO2")).toBe("online");
    expect(await p.nodes.list()).toHaveLength(2);
  });

  it("a steady rate of 5xx answers is absorbed by the retries", async () => {
    s.http.setFaults("lb", { errorRate: 0.3 });
    const p = ports({ attempts: 8 });
    for (let i = 0; i < 15; i++) expect(await p.maintenance.isOn()).toBe(false);
  });

  it("a drain that never finishes: the drained node keeps reporting its running task", async () => {
    const stuck = await fetch(`${s.controlUrl}/services/OCTO1/stuck`, { method: "POST", headers: { "X-Standin-Token": s.controlToken } });
    expect(stuck.status).toBe(200);
    s.cluster.updateNode("OCTO2", { maxConcurrentTasks: 0 });
    s.cluster.queueTask();
    s.cluster.advance(0);
    const p = ports();
    await p.nodes.update("OctopusServerNodes-OCTO1", { isDraining: true });
    s.cluster.advance(24 * 3_600_000);
    const octo1 = (await p.nodes.list()).find((n) => n.name === "OCTO1")!;
    expect(octo1).toMatchObject({ isDraining: true, runningTaskCount: 1 });
    expect(await p.nodes.ping("OCTO1")).toBe("draining");
  });
});
