/**
 * Each node keeps its own connection string (its config file), set by `database --connectionString`
 * on that node's machine; a node starts only on a database it can open, and heartbeats into it.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import sql from "mssql";
import { afterEach, describe, expect, it } from "vitest";
import { startTestStandin, type TestStandin } from "../src/testing/harness.js";
import type { StandinOptions } from "../src/index.js";
import { writeNodeControlLookalikes } from "../src/lookalikes/index.js";
import { exe } from "./exe.js";
import { formatConnectionString, REDACTED, withConnectionStringValue } from "../src/databases.js";

const open: TestStandin[] = [];
afterEach(async () => {
  while (open.length) await open.pop()!.close();
});

async function standin(options: Partial<StandinOptions> = {}): Promise<TestStandin> {
  const s = await startTestStandin({ servicePendingMs: 30, ...options });
  open.push(s);
  return s;
}

async function showConnectionString(s: TestStandin, node: number, format = "json"): Promise<unknown> {
  const r = await exe(s.nodes[node]!.serverExe, ["show-configuration", `--format=${format}`, "--noconsolelogging"]);
  expect(r.code).toBe(0);
  const parsed = JSON.parse(r.stdout) as Record<string, unknown>;
  if (format === "json") return parsed["Octopus.Storage.ExternalDatabaseConnectionString"];
  return ((parsed.Octopus as Record<string, unknown>).Storage as Record<string, unknown>).ExternalDatabaseConnectionString;
}

async function query<T>(connectionString: string, text: string): Promise<T[]> {
  const pool = new sql.ConnectionPool({ ...sql.ConnectionPool.parseConnectionString(connectionString), pool: { max: 1, min: 0 } });
  await pool.connect();
  try {
    return (await pool.request().query<T>(text)).recordset;
  } finally {
    await pool.close();
  }
}

// A throwaway password made per run: a literal one here would read as a committed secret.
/** A master key shaped like Octopus's (base64 of 16 bytes), made per run. */
const masterKeyLike = (): string => randomBytes(16).toString("base64");

const ELSEWHERE_PASSWORD = randomUUID();
const ELSEWHERE_WITHOUT_PASSWORD: [string, string][] = [
  ["Server", "127.0.0.1,1"],
  ["Database", "Octopus"],
  ["User Id", "octoha_reader"],
];
const ELSEWHERE = formatConnectionString([...ELSEWHERE_WITHOUT_PASSWORD, ["Password", ELSEWHERE_PASSWORD]]);

describe("database --connectionString: each node's own config", () => {
  it("saves the value in that machine's instance only; show-configuration prints it under Octopus.Storage.ExternalDatabaseConnectionString", async () => {
    const s = await standin();
    const primary = s.databases()[0]!.connectionString;
    expect(await showConnectionString(s, 0)).toBe(primary);
    expect(await showConnectionString(s, 1, "json-hierarchical")).toBe(primary);

    const r = await exe(s.nodes[1]!.serverExe, ["database", "--instance=OctopusServer", `--connectionString=${ELSEWHERE}`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/connection string saved for instance OctopusServer/);
    expect(`${r.stdout}${r.stderr}`).not.toContain(ELSEWHERE_PASSWORD);
    expect(await showConnectionString(s, 1)).toBe(ELSEWHERE);
    expect(await showConnectionString(s, 1, "json-hierarchical")).toBe(ELSEWHERE);
    expect(await showConnectionString(s, 0)).toBe(primary);
    // The XML form escapes nothing away: the value as stored.
    const xml = await exe(s.nodes[1]!.serverExe, ["show-configuration"]);
    expect(xml.stdout).toContain(`<set key="Octopus.Storage.ExternalDatabaseConnectionString">${ELSEWHERE}</set>`);
    // A running node keeps the database it opened until it restarts.
    expect(s.cluster.node("OCTO2").running).toBe(true);
  });

  it("refuses another machine's instance, an unreachable machine and a denied one as service does, saving nothing", async () => {
    const s = await standin({ instances: { OCTO2: ["OctopusServer", "Prod"] } });
    const primary = s.databases()[0]!.connectionString;
    const other = await exe(s.nodes[0]!.serverExe, ["database", "--instance=Prod", `--connectionString=${ELSEWHERE}`]);
    expect(other).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/Instance Prod of OctopusServer has not been configured on this machine/),
    });
    const notNode = await exe(s.nodes[1]!.serverExe, ["database", "--instance=Prod", `--connectionString=${ELSEWHERE}`]);
    expect(notNode).toMatchObject({ code: 1, stderr: expect.stringMatching(/not part of the simulated cluster/) });

    s.machines.setFaults("OCTO1", { unreachable: true });
    expect((await exe(s.nodes[0]!.serverExe, ["database", `--connectionString=${ELSEWHERE}`])).code).toBe(1);
    s.machines.setFaults("OCTO1", { unreachable: false, accessDenied: true });
    const denied = await exe(s.nodes[0]!.serverExe, ["database", `--connectionString=${ELSEWHERE}`]);
    expect(denied).toMatchObject({ code: 42, stderr: expect.stringMatching(/security exception/) });
    s.machines.setFaults("OCTO1", { accessDenied: false });
    expect(s.machines.config("OCTO1", "OctopusServer").connectionString).toBe(primary);
    expect(s.machines.config("OCTO2", "Prod").connectionString).toBe(primary);
  });

  it("--masterKey that is not the database's is refused and saves nothing, the cluster's key is accepted", async () => {
    const clusterKey = masterKeyLike();
    const s = await standin({ masterKey: clusterKey });
    const primary = s.databases()[0]!.connectionString;
    const wrongKey = masterKeyLike();
    const wrong = await exe(s.nodes[1]!.serverExe, ["database", `--connectionString=${primary}`, `--masterKey=${wrongKey}`]);
    expect(wrong).toMatchObject({ code: 1, stderr: expect.stringMatching(/master key given does not match/) });
    expect(wrong.stderr).not.toContain(wrongKey);
    expect(s.machines.config("OCTO2", "OctopusServer").masterKey).toBe(clusterKey);
    const right = await exe(s.nodes[1]!.serverExe, ["database", `--connectionString=${primary}`, `--masterKey=${s.masterKey}`]);
    expect(right).toMatchObject({ code: 0, stdout: expect.stringMatching(/Master key saved/) });
    // A database the stand-in does not serve cannot be checked: the key is saved, as the connection string is.
    const unchecked = await exe(s.nodes[1]!.serverExe, ["database", `--connectionString=${ELSEWHERE}`, `--masterKey=${masterKeyLike()}`]);
    expect(unchecked.code).toBe(0);
  });

  it("a node whose connection string names a database the stand-in does not serve fails to start, and says why in its own log", async () => {
    const s = await standin();
    const primary = s.databases()[0]!.connectionString;
    expect((await exe(s.nodes[1]!.serverExe, ["database", `--connectionString=${ELSEWHERE}`])).code).toBe(0);
    const restart = await exe(s.nodes[1]!.serverExe, ["service", "--restart"]);
    expect(restart).toMatchObject({ code: 1, stderr: expect.stringMatching(/could not be started: it is STOPPED/) });
    expect(s.cluster.node("OCTO2").running).toBe(false);
    expect(s.machines.service("OCTO2", "OctopusDeploy")).toMatchObject({ state: "STOPPED", win32ExitCode: 1067 });
    const log = readFileSync(s.cluster.resolvePath("OCTO2", "C:\\Octopus\\Logs\\OctopusServer.txt")!, "utf8");
    expect(log).toContain(
      `Unable to connect to the Octopus database (${formatConnectionString([...ELSEWHERE_WITHOUT_PASSWORD, ["Password", REDACTED]])})`,
    );
    expect(log).toMatch(/The server was not found or was not accessible/);
    expect(log).not.toContain(ELSEWHERE_PASSWORD);
    // The service managers say the process exited: sc's WIN32_EXIT_CODE 1067, systemd's "failed".
    const tools = writeNodeControlLookalikes(path.join(s.tmp, "tools"), s);
    expect((await exe(tools.sc, ["\\\\OCTO2", "query", "OctopusDeploy"])).stdout).toMatch(
      /STATE {14}: 1 {2}STOPPED[\s\S]*WIN32_EXIT_CODE {4}: 1067 {2}\(0x42b\)/,
    );
    expect(await exe(tools.ssh, ["octoha@OCTO2", "systemctl", "is-active", "octopusdeploy"])).toMatchObject({
      code: 3,
      stdout: "failed\n",
    });
    expect((await exe(tools.sc, ["\\\\OCTO1", "query", "OctopusDeploy"])).stdout).toMatch(/WIN32_EXIT_CODE {4}: 0 {2}\(0x0\)/);

    // A wrong password on the right server is a login failure; the right string starts it again.
    const badPassword = withConnectionStringValue(primary, "Password", randomUUID());
    expect((await exe(s.nodes[1]!.serverExe, ["database", `--connectionString=${badPassword}`])).code).toBe(0);
    expect((await exe(s.nodes[1]!.serverExe, ["service", "--start"])).code).toBe(1);
    expect(readFileSync(s.cluster.resolvePath("OCTO2", "C:\\Octopus\\Logs\\OctopusServer.txt")!, "utf8")).toMatch(
      /Login failed for user 'octoha_reader'/,
    );
    expect((await exe(s.nodes[1]!.serverExe, ["database", `--connectionString=${primary}`])).code).toBe(0);
    expect((await exe(s.nodes[1]!.serverExe, ["service", "--start"])).code).toBe(0);
    expect(s.cluster.node("OCTO2").running).toBe(true);
    expect(s.machines.service("OCTO2", "OctopusDeploy").win32ExitCode).toBeUndefined();
  });

  it("a running node heartbeats into its database's OctopusServerNode.LastSeen; a stopped one does not", async () => {
    const s = await standin({ sql: true });
    const cs = s.sqlConnectionString!;
    expect((await exe(s.nodes[1]!.serverExe, ["service", "--stop"])).code).toBe(0);
    const lastSeen = async () =>
      Object.fromEntries(
        (await query<{ Name: string; LastSeen: Date }>(cs, "SELECT Name, LastSeen FROM dbo.OctopusServerNode")).map((r) => [
          r.Name,
          r.LastSeen.getTime(),
        ]),
      );
    const before = await lastSeen();
    s.cluster.advance(60_000);
    const after = await lastSeen();
    expect(after.OCTO1! - before.OCTO1!).toBe(60_000);
    expect(after.OCTO2).toBe(before.OCTO2);
  });
});
