import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { Plan } from "../../src/plan/schema.js";
import { tentacleAdvice } from "../../src/tentacles/advice.js";
import { parseTrustedServers } from "../../src/tentacles/config.js";
import { httpRedisProbe } from "../../src/tentacles/redis-probe.js";
import { cleanEnv, REPO, runCli, withTempDir } from "../helpers/cli.js";
import { windowsPlan, type Loose } from "../plan/fixtures.js";
import { resultOf } from "../helpers/envelope.js";

const CONFIG = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures", "Tentacle.config");
const REPAIR_PLAN = path.join(REPO, "plans", "repair-two-nodes.json");
const THUMB = "8A7F2C1D0E9B8A7F6E5D4C3B2A1908F7E6D5C4B3";
const KEY = "API-TENTACLEKEY000000000000";
const env = cleanEnv({ OCTOPUS_API_KEY: KEY });

interface AdviceJson {
  needed: boolean;
  nodes: { node: string; address: string; argv: string[]; commandLine: string }[];
  trusted: { thumbprint: string; subscriptionId: string; add: Record<string, unknown>[]; present: { node: string }[]; merged: unknown[] };
  restart: { commandLine: string };
}

describe("octoha tentacles", () => {
  it("prints one poll-server per node and the trusted-server entries a Tentacle.config still lacks", async () => {
    const result = await runCli(["tentacles", REPAIR_PLAN, "--tentacle-config", CONFIG, "--json"], { env });
    expect(result.code).toBe(0);
    const advice = resultOf<AdviceJson>(result.stdout, "tentacles", 0);
    expect(advice.needed).toBe(true);
    expect(advice.nodes.map((n) => n.argv.slice(1))).toEqual([
      [
        "poll-server",
        "--instance=Tentacle",
        "--server=https://octo1.example.com",
        "--server-comms-address=https://octo1.example.com:10943",
      ],
      [
        "poll-server",
        "--instance=Tentacle",
        "--server=https://octo2.example.com",
        "--server-comms-address=https://octo2.example.com:10943",
      ],
    ]);
    // OCTO1 is already trusted (Thumbprint + Address match case-insensitively); only OCTO2 is added.
    expect(advice.trusted.present.map((p) => p.node)).toEqual(["OCTO1"]);
    expect(advice.trusted.add).toEqual([
      {
        Thumbprint: THUMB,
        CommunicationStyle: 2,
        Address: "https://octo2.example.com:10943",
        Squid: null,
        SubscriptionId: "poll://kx7b2mq9fz3wn4tsd8yr/",
      },
    ]);
    expect(advice.trusted.merged).toHaveLength(2);
    expect(advice.restart.commandLine).toContain("service --instance=Tentacle --stop --start");
  });

  it("never prints the API key: commands refer to the variable the plan names", async () => {
    const result = await runCli(["tentacles", REPAIR_PLAN, "--tentacle-config", CONFIG], { env });
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain("TENTACLEKEY");
    expect(result.stdout).toContain("--apiKey=$env:OCTOPUS_API_KEY");
    expect(result.stdout).toContain("Restart the Tentacle service");
    const sh = await runCli(["tentacles", REPAIR_PLAN, "--shell", "sh"], { env });
    expect(sh.stdout).toContain('--apiKey="$OCTOPUS_API_KEY"');
    expect(sh.stdout).toContain("/opt/octopus/tentacle/Tentacle poll-server");
  });

  it("says nothing per node is needed when Redis multi-node polling is enabled", async () => {
    const result = await runCli(["tentacles", REPAIR_PLAN, "--redis-enabled"], { env });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("Redis multi-node polling is enabled");
    expect(result.stdout).not.toContain("--server-comms-address");
  });

  it("refuses (exit 2) a node it cannot derive a polling address for, naming the field", async () =>
    withTempDir(async (dir) => {
      const plan = windowsPlan() as Loose;
      delete plan.nodes[1].url;
      const file = path.join(dir, "plan.json");
      await writeFile(file, JSON.stringify(plan));
      const result = await runCli(["tentacles", file], { cwd: dir, env });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain("OCTO2");
      expect(result.stderr).toContain("pollingAddress");
    }));

  it("includes a node given by --with-node (one joining the cluster), and refuses one the plan already has", async () => {
    const result = await runCli(["tentacles", REPAIR_PLAN, "--with-node", "OCTO3=https://octo3.example.com", "--json"], { env });
    expect(result.code, result.stderr).toBe(0);
    const advice = resultOf<AdviceJson>(result.stdout, "tentacles", 0);
    expect(advice.nodes.map((n) => [n.node, n.address])).toEqual([
      ["OCTO1", "https://octo1.example.com:10943"],
      ["OCTO2", "https://octo2.example.com:10943"],
      ["OCTO3", "https://octo3.example.com:10943"],
    ]);
    expect(advice.nodes[2]!.argv).toContain("--server=https://octo3.example.com");
    const duplicate = await runCli(["tentacles", REPAIR_PLAN, "--with-node", "octo2=https://x.example.com"], { env });
    expect(duplicate.code).toBe(2);
    expect(duplicate.stderr).toContain("the plan already has a node OCTO2");
    expect((await runCli(["tentacles", REPAIR_PLAN, "--with-node", "OCTO3"], { env })).code).toBe(2);
  });
});

describe("tentacle advice", () => {
  const plan = Plan.parse(windowsPlan());
  const trusted = (entries: unknown[]): string =>
    `<octopus-settings><set key="Tentacle.Communication.TrustedOctopusServers">${JSON.stringify(entries).replace(/"/g, "&quot;")}</set></octopus-settings>`;

  it("reads an entity-encoded TrustedOctopusServers setting", () => {
    expect(parseTrustedServers(trusted([{ Thumbprint: "AB", CommunicationStyle: "TentacleActive", SubscriptionId: "poll://x/" }]))).toEqual(
      [{ Thumbprint: "AB", CommunicationStyle: "TentacleActive", SubscriptionId: "poll://x/" }],
    );
    expect(parseTrustedServers("<octopus-settings></octopus-settings>")).toEqual([]);
    expect(() => parseTrustedServers("<html/>")).toThrow(/not a Tentacle configuration file/);
  });

  it("asks for --thumbprint when the Tentacle polls several servers, and uses the one given", () => {
    const entries = parseTrustedServers(
      trusted([
        { Thumbprint: "AAAA", CommunicationStyle: 2, Address: "https://other:10943", SubscriptionId: "poll://s/" },
        { Thumbprint: "BBBB", CommunicationStyle: 2, Address: "https://octo1.example.com:10943", SubscriptionId: "poll://s/" },
      ]),
    );
    expect(() =>
      tentacleAdvice(plan, { shell: "pwsh", instance: "Tentacle", trusted: entries, redis: { enabled: false, source: "flag" } }),
    ).toThrow(/different thumbprints/);
    const advice = tentacleAdvice(plan, {
      shell: "pwsh",
      instance: "Tentacle",
      trusted: entries,
      thumbprint: "bbbb",
      redis: { enabled: false, source: "flag" },
    });
    expect(advice.trusted?.add.map((e) => e.Address)).toEqual(["https://octo2.example.com:10943"]);
  });

  it("refuses a Tentacle that is not registered as polling, because poll-server would fail", () => {
    const entries = parseTrustedServers(trusted([{ Thumbprint: "AAAA", CommunicationStyle: 1, Address: null }]));
    expect(() =>
      tentacleAdvice(plan, { shell: "pwsh", instance: "Tentacle", trusted: entries, redis: { enabled: undefined, source: "not-checked" } }),
    ).toThrow(/no polling/);
  });

  it("quotes arguments the shell would split or expand, but leaves the API key reference for the shell", () => {
    const advice = tentacleAdvice(plan, { shell: "sh", instance: "Web $1", redis: { enabled: false, source: "flag" } });
    expect(advice.nodes[0]?.commandLine).toContain("'--instance=Web $1'");
    expect(advice.nodes[0]?.commandLine).toMatch(/ --apiKey="\$OCTOPUS_API_KEY"$/);
    const pwsh = tentacleAdvice(plan, { shell: "pwsh", instance: "It's", redis: { enabled: false, source: "flag" } });
    expect(pwsh.nodes[0]?.commandLine).toMatch(
      /^& 'C:\\Program Files\\Octopus Deploy\\Tentacle\\Tentacle\.exe' poll-server '--instance=It''s'/,
    );
  });

  it("uses --server-web-socket for a wss:// polling address", () => {
    const p = windowsPlan() as Loose;
    p.nodes[0].pollingAddress = "wss://octo1.example.com/OctopusComms";
    const advice = tentacleAdvice(Plan.parse(p), { shell: "sh", instance: "Tentacle", redis: { enabled: false, source: "flag" } });
    expect(advice.nodes[0]?.argv).toContain("--server-web-socket=wss://octo1.example.com/OctopusComms");
  });
});

describe("the Redis probe", () => {
  async function withServer(
    handler: (status: (code: number, body?: unknown) => void) => void,
    fn: (url: string) => Promise<void>,
  ): Promise<void> {
    const asked: (string | undefined)[] = [];
    const server = createServer((req, res) => {
      asked.push(req.url);
      handler((code, body) => {
        res.writeHead(code, { "content-type": "application/json" });
        res.end(body === undefined ? "" : JSON.stringify(body));
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      await fn(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
      expect(asked).toEqual(["/api/serverstatus/redis"]);
    } finally {
      await new Promise((r) => server.close(r));
    }
  }

  it("reads IsEnabled/IsReachable from /api/serverstatus/redis", () =>
    withServer(
      (send) => send(200, { IsEnabled: true, IsConfigured: true, IsReachable: false }),
      async (url) => {
        expect(await httpRedisProbe(url).status()).toEqual({ enabled: true, configured: true, reachable: false, source: "api" });
      },
    ));

  it("treats 404 as an Octopus without multi-node polling", () =>
    withServer(
      (send) => send(404),
      async (url) => {
        expect((await httpRedisProbe(`${url}/`).status()).enabled).toBe(false);
      },
    ));

  it("reports an unreachable server as unknown instead of failing", async () => {
    // A loopback port that was free a moment ago: nothing listens there now.
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const status = await httpRedisProbe(`http://127.0.0.1:${port}`, { timeoutMs: 2000 }).status();
    expect(status.enabled).toBeUndefined();
    expect(status.note).toMatch(/could not read/);
  });
});
