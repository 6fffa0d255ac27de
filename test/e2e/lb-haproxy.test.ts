/**
 * A real HAProxy, configured by `octoha lb --format haproxy`, in front of a 3-node stand-in: requests
 * spread over every node; a node drained through octoha's REST adapter (what the drain step calls)
 * fails its check (ping 418) and gets no new request while the others serve; undrained it returns;
 * a stopped node is taken out. The node that answered is the `Octopus-Node` response header.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStandin, type TestStandin } from "@octoha/standin/testing";
import { createRestPorts } from "../../src/octopus/rest/index.js";
import { cleanEnv, runCli } from "../helpers/cli.js";

const HAPROXY = ["/usr/sbin/haproxy", "/usr/local/sbin/haproxy", "/usr/bin/haproxy"].find((p) => existsSync(p)) ?? whichHaproxy();
function whichHaproxy(): string | undefined {
  const r = spawnSync("sh", ["-c", "command -v haproxy"], { encoding: "utf8" });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : undefined;
}
if (!HAPROXY) console.warn("lb-haproxy.test.ts: SKIPPED: haproxy is not installed (Debian: apt-get install -y haproxy).");

const INTERVAL_MS = 200;
const FALL = 2;
/** Secrets in the environment of `octoha lb`: none may reach the file or the output. */
const SQL_SECRET = "Server=sql01;Database=Octopus;User Id=octoha;Password=Hunter2-LB-Secret;";

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface ServerState {
  status: string;
  checkStatus: string;
  checkCode: string;
}

describe.skipIf(!HAPROXY)("a real HAProxy with octoha's configuration in front of a 3-node stand-in", () => {
  let standin: TestStandin;
  let haproxy: ChildProcess | undefined;
  let haproxyErr = "";
  let frontend = "";
  let stats = "";
  let cfg = "";
  let generated: { code: number; stdout: string; stderr: string };

  beforeAll(async () => {
    standin = await startTestStandin({ nodes: 3 });
    const [fe, st] = [await freePort(), await freePort()];
    frontend = `http://127.0.0.1:${fe}`;
    stats = `http://127.0.0.1:${st}/stats;csv`;
    const plan = {
      version: 1,
      octopus: { serverUrl: frontend, sql: { connectionString: { env: "OCTOHA_SQL_CONNECTION_STRING" } } },
      nodes: standin.nodes.map((n) => ({ name: n.name, url: `${n.url}/`, control: { kind: "sc", host: n.name } })),
      shared: {
        taskLogs: { octopus: "\\\\fs01\\OctopusShared\\TaskLogs" },
        artifacts: { octopus: "\\\\fs01\\OctopusShared\\Artifacts" },
        packages: { octopus: "\\\\fs01\\OctopusShared\\Packages" },
      },
    };
    const planFile = path.join(standin.tmp, "plan.json");
    writeFileSync(planFile, JSON.stringify(plan, null, 2));
    cfg = path.join(standin.tmp, "haproxy.cfg");
    const args = ["lb", planFile, "--format", "haproxy", "--out", cfg, "--bind", `127.0.0.1:${fe}`, "--stats", `127.0.0.1:${st}`];
    args.push("--check-interval", String(INTERVAL_MS), "--check-fall", String(FALL), "--check-rise", "1", "--check-timeout", "500");
    generated = await runCli(args, { env: cleanEnv({ OCTOPUS_API_KEY: standin.apiKey, OCTOHA_SQL_CONNECTION_STRING: SQL_SECRET }) });
    expect(generated.code, generated.stderr).toBe(0);
    const check = spawnSync(HAPROXY!, ["-c", "-f", cfg], { encoding: "utf8" });
    expect(check.status, check.stdout + check.stderr).toBe(0);
    haproxy = spawn(HAPROXY!, ["-f", cfg, "-db"], { stdio: ["ignore", "ignore", "pipe"] });
    haproxy.stderr!.on("data", (d: Buffer) => (haproxyErr += d.toString()));
    await until("every node is UP", async () => Object.values(await serverStates()).filter((s) => s.status === "UP").length === 3);
  });

  afterAll(async () => {
    if (haproxy && haproxy.exitCode === null) {
      const exited = new Promise((r) => haproxy!.once("exit", r));
      haproxy.kill("SIGTERM");
      await exited;
    }
    await standin?.close();
  });

  async function serverStates(): Promise<Record<string, ServerState>> {
    let text: string;
    try {
      text = await (await fetch(stats)).text();
    } catch {
      return {};
    }
    const [header, ...rows] = text.trim().split("\n");
    const cols = header!.replace(/^# /, "").split(",");
    const at = (name: string) => cols.indexOf(name);
    const out: Record<string, ServerState> = {};
    for (const row of rows) {
      const f = row.split(",");
      if (f[at("pxname")] !== "octopus_nodes" || ["BACKEND", "FRONTEND"].includes(f[at("svname")]!)) continue;
      out[f[at("svname")]!] = { status: f[at("status")]!, checkStatus: f[at("check_status")]!, checkCode: f[at("check_code")]! };
    }
    return out;
  }

  async function until(what: string, ok: () => Promise<boolean>, timeoutMs = 15_000): Promise<number> {
    const start = Date.now();
    while (!(await ok())) {
      if (Date.now() - start > timeoutMs)
        throw new Error(`timed out waiting until ${what}: ${JSON.stringify(await serverStates())}\n${haproxyErr}`);
      await sleep(25);
    }
    return Date.now() - start;
  }

  /** Who answered each of n requests through HAProxy (every one must be a 200 from the stand-in). */
  async function answeredBy(n: number): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      const res = await fetch(`${frontend}/api`, { headers: { connection: "close" } });
      await res.arrayBuffer();
      expect(res.status).toBe(200);
      const node = res.headers.get("octopus-node") ?? "(none)";
      counts[node] = (counts[node] ?? 0) + 1;
    }
    return counts;
  }

  it("writes a configuration haproxy -c accepts, with the ping check, and no secret from the environment", () => {
    const text = readFileSync(cfg, "utf8");
    expect(text).toContain("http-check send meth GET uri /api/octopusservernodes/ping ver HTTP/1.1");
    expect(text).toContain("http-check expect status 200");
    expect(text).toContain(`default-server check inter ${INTERVAL_MS}ms fall ${FALL} rise 1`);
    for (const n of standin.nodes) expect(text).toContain(`server ${n.name} ${new URL(n.url).host}`);
    for (const out of [text, generated.stdout, generated.stderr]) {
      expect(out).not.toContain(standin.apiKey);
      expect(out).not.toContain("Hunter2-LB-Secret");
    }
  });

  it("spreads requests over all three nodes", async () => {
    const counts = await answeredBy(30);
    expect(Object.keys(counts).sort()).toEqual(standin.nodes.map((n) => n.name).sort());
    for (const n of standin.nodes) expect(counts[n.name]).toBeGreaterThanOrEqual(5);
  });

  it("takes a node drained through octoha out within the check interval, sends it nothing while the others serve, and brings it back once undrained", async () => {
    const drained = standin.nodes[1]!.name;
    const nodes = createRestPorts({ serverUrl: standin.url, apiKey: standin.apiKey }).nodes;
    const id = (await nodes.list()).find((n) => n.name === drained)!.id;
    await nodes.update(id, { isDraining: true });
    expect((await fetch(`${standin.nodes[1]!.url}/api/octopusservernodes/ping`)).status).toBe(418);

    const tookMs = await until(`${drained} is DOWN`, async () => (await serverStates())[drained]?.status === "DOWN");
    const state = (await serverStates())[drained]!;
    expect(state).toMatchObject({ checkStatus: "L7STS", checkCode: "418" });
    // fall × inter plus one check timeout, with slack for a busy machine; HAProxy's default (2 s × 3) would be far over.
    expect(tookMs).toBeLessThan(INTERVAL_MS * FALL + 500 + 2500);

    const during = await answeredBy(30);
    expect(during[drained]).toBeUndefined();
    expect(Object.keys(during).sort()).toEqual(
      standin.nodes
        .map((n) => n.name)
        .filter((n) => n !== drained)
        .sort(),
    );

    await nodes.update(id, { isDraining: false });
    await until(`${drained} is UP again`, async () => (await serverStates())[drained]?.status === "UP");
    const after = await answeredBy(30);
    expect(after[drained]).toBeGreaterThanOrEqual(5);
  });

  it("takes a stopped node out and keeps serving from the others", async () => {
    const stopped = standin.nodes[2]!.name;
    standin.cluster.stopNode(stopped);
    await standin.http.settle();
    await until(`${stopped} is DOWN`, async () => (await serverStates())[stopped]?.status === "DOWN");
    expect((await serverStates())[stopped]!.checkStatus).toMatch(/^L4/);
    const during = await answeredBy(30);
    expect(during[stopped]).toBeUndefined();
    expect(Object.keys(during).sort()).toEqual(
      standin.nodes
        .map((n) => n.name)
        .filter((n) => n !== stopped)
        .sort(),
    );
  });
});
