/**
 * A spare machine (Octopus installed, no instance) joins the running cluster through its own Octopus.Server:
 * create-instance, configure, service --install --reconfigure --start. It then registers as a node, is listed by
 * /api/octopusservernodes, answers its ping and reads a task log another node wrote through the share.
 */
import { afterEach, describe, expect, it } from "vitest";
import { startTestStandin, type TestStandin } from "../src/testing/harness.js";
import { writeNodeControlLookalikes } from "../src/lookalikes/index.js";
import { DEFAULT_WINDOWS_EXE } from "../src/lookalikes/config.js";
import type { StandinOptions } from "../src/index.js";
import { exe } from "./exe.js";

const open: TestStandin[] = [];
afterEach(async () => {
  while (open.length) await open.pop()!.close();
});

const SHARE = "\\\\fs01\\OctopusShared";
const FOLDERS = { taskLogs: `${SHARE}\\TaskLogs`, artifacts: `${SHARE}\\Artifacts`, packages: `${SHARE}\\Packages` };

async function standin(options: Partial<StandinOptions> = {}): Promise<TestStandin> {
  const s = await startTestStandin({
    clock: "real",
    startupMs: 0,
    folders: FOLDERS,
    seedTasks: 2,
    spareMachines: [{ host: "OCTO3" }],
    sql: true,
    ...options,
  });
  open.push(s);
  return s;
}

const spareExe = (s: TestStandin) => s.spareMachines[0]!.serverExe;
/** The look-alike's `database` command on the spare machine, with the cluster's connection string and master key. */
const database = (s: TestStandin, masterKey = s.masterKey) =>
  exe(spareExe(s), ["database", "--instance", "OctopusServer", `--connectionString=${s.sqlConnectionString!}`, `--masterKey=${masterKey}`]);

describe("a spare machine joins the cluster through the Octopus.Server look-alike", () => {
  it("has Octopus installed at its own version and no instance until create-instance", async () => {
    const s = await standin({ spareMachines: [{ host: "OCTO3", version: "2023.4.1000" }] });
    expect(s.spareMachines[0]).toMatchObject({ name: "OCTO3", version: "2023.4.1000" });
    expect(s.nodes.map((n) => n.name)).toEqual(["OCTO1", "OCTO2"]);
    expect((await exe(spareExe(s), ["version"])).stdout.trim()).toBe("2023.4.1000");
    expect(JSON.parse((await exe(spareExe(s), ["version", "--format=json"])).stdout)).toEqual({ Version: "2023.4.1000" });
    // No instance yet: service on it fails as the real tool does for an unknown instance.
    const svc = await exe(spareExe(s), ["service", "--stop", "--instance", "OctopusServer"]);
    expect(svc.code).toBe(1);
    expect(svc.stderr).toMatch(/has not been configured on this machine/);
    // Nothing answers on its URL before it joins.
    await expect(fetch(`${s.spareMachines[0]!.url}/api/octopusservernodes/ping`)).rejects.toThrow();
  });

  it("create-instance, configure and service --install --start make it a node that serves and reads another node's task log", async () => {
    const s = await standin();
    const x = spareExe(s);
    const created = await exe(x, [
      "create-instance",
      "--instance",
      "OctopusServer",
      "--config",
      "C:\\Octopus\\OctopusServer.config",
      "--home",
      "C:\\Octopus",
      "--serverNodeName",
      "OCTO3",
    ]);
    expect(created).toMatchObject({ code: 0 });
    expect((await exe(x, ["create-instance", "--instance", "OctopusServer", "--config", "C:\\Octopus\\x.config"])).code).toBe(1);
    const configured = await exe(x, [
      "configure",
      "--instance",
      "OctopusServer",
      "--webForceSSL",
      "False",
      "--webListenPrefixes",
      "http://+:80/",
      "--commsListenPort",
      "10943",
    ]);
    expect(configured.code).toBe(0);
    // Octopus cannot start without its database: the service refuses until `database` ran.
    const early = await exe(x, ["service", "--instance", "OctopusServer", "--install", "--reconfigure", "--start"]);
    expect(early.code).toBe(1);
    expect(early.stderr).toMatch(/no database configured/);
    // The master key must be the cluster's (the look-alike's database check).
    expect((await database(s, "AAAAAAAAAAAAAAAAAAAAAA==")).code).toBe(1);
    expect(s.cluster.nodes().map((n) => n.name)).toEqual(["OCTO1", "OCTO2"]);
    expect((await database(s)).code).toBe(0);
    const started = await exe(x, ["service", "--instance", "OctopusServer", "--install", "--reconfigure", "--start"]);
    expect(started).toMatchObject({ code: 0 });
    expect(started.stdout).toMatch(/Registered server node OCTO3/);
    expect(s.machines.machine("OCTO3").created[0]).toMatchObject({
      nodeName: "OCTO3",
      webListenPrefixes: "http://+:80/",
      commsListenPort: 10943,
      webForceSSL: false,
      serviceInstalled: true,
    });

    const url = s.spareMachines[0]!.url;
    const nodes = (await (await fetch(`${s.url}/api/octopusservernodes`, { headers: { "X-Octopus-ApiKey": s.apiKey } })).json()) as {
      Items: { Name: string; IsInMaintenanceMode: boolean }[];
    };
    expect(nodes.Items.map((n) => n.Name)).toEqual(["OCTO1", "OCTO2", "OCTO3"]);
    expect((await fetch(`${url}/api/octopusservernodes/ping`)).status).toBe(200);
    const task = s.cluster.tasks().find((t) => t.serverNode === "OCTO1" && t.state === "Success")!;
    const raw = await fetch(`${url}/api/tasks/${task.id}/raw`, { headers: { "X-Octopus-ApiKey": s.apiKey } });
    expect(raw.status).toBe(200);
    expect(await raw.text()).toMatch(/started on OCTO1/);
    // A second install is a reconfigure: the node is not registered twice.
    expect((await exe(x, ["service", "--instance", "OctopusServer", "--install", "--reconfigure", "--start"])).code).toBe(0);
    expect(s.cluster.nodes().filter((n) => n.name === "OCTO3")).toHaveLength(1);
    // Its service is now a node's service: stop and start work through the same executable.
    expect((await exe(x, ["service", "--stop", "--instance", "OctopusServer"])).code).toBe(0);
    expect(s.cluster.node("OCTO3").running).toBe(false);
  });

  it("refuses a node name the cluster already has", async () => {
    const s = await standin();
    const x = spareExe(s);
    await exe(x, [
      "create-instance",
      "--instance",
      "OctopusServer",
      "--config",
      "C:\\Octopus\\OctopusServer.config",
      "--serverNodeName",
      "octo2",
    ]);
    expect((await database(s)).code).toBe(0);
    const r = await exe(x, ["service", "--instance", "OctopusServer", "--install", "--reconfigure", "--start"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/A node named OCTO2 already exists/);
    expect(s.cluster.nodes()).toHaveLength(2);
  });

  it("Test-Path through the PowerShell look-alike sees the share, and not with the machine's share fault; a joined node then cannot read the share", async () => {
    const s = await standin();
    const la = writeNodeControlLookalikes(`${s.tmp}/lookalikes`, s);
    const testPath = async (p: string) => {
      const script = `Invoke-Command -ComputerName 'OCTO3' -ErrorAction Stop -ScriptBlock { param($p) Test-Path -LiteralPath $p } -ArgumentList '${p}'`;
      return (await exe(la.powershell, ["-NoProfile", "-NonInteractive", "-Command", script])).stdout.trim();
    };
    expect(await testPath(`${SHARE}\\TaskLogs`)).toBe("True");
    expect(await testPath(`${SHARE}\\NoSuchFolder`)).toBe("False");
    s.machines.setFaults("OCTO3", { shareUnreachable: true });
    expect(await testPath(`${SHARE}\\TaskLogs`)).toBe("False");
    // The same fault on the joined node: it cannot read a log another node wrote.
    const x = spareExe(s);
    await exe(x, ["create-instance", "--instance", "OctopusServer", "--config", "C:\\Octopus\\OctopusServer.config"]);
    expect((await database(s)).code).toBe(0);
    expect((await exe(x, ["service", "--instance", "OctopusServer", "--install", "--reconfigure", "--start"])).code).toBe(0);
    const task = s.cluster.tasks().find((t) => t.serverNode === "OCTO1")!;
    const raw = await fetch(`${s.spareMachines[0]!.url}/api/tasks/${task.id}/raw`, { headers: { "X-Octopus-ApiKey": s.apiKey } });
    expect(raw.status).toBe(500);
  });

  it("runs the machine's Octopus.Server through a PowerShell remoting script, expanding $env: values locally", async () => {
    const s = await standin();
    const la = writeNodeControlLookalikes(`${s.tmp}/lookalikes`, s);
    const script =
      `$r = Invoke-Command -ComputerName 'OCTO3' -ErrorAction Stop -ScriptBlock { param($exe, [string[]]$a) ` +
      `$out = & $exe @a 2>&1 | Out-String; [pscustomobject]@{ Out = $out; Code = $LASTEXITCODE } } ` +
      `-ArgumentList '${DEFAULT_WINDOWS_EXE}', @('create-instance', '--instance', 'OctopusServer', '--config', $env:CONFIG_PATH); $r.Out; exit $r.Code`;
    const r = await exe(la.powershell, ["-NoProfile", "-NonInteractive", "-Command", script], {
      ...process.env,
      CONFIG_PATH: "D:\\O\\x.config",
    });
    expect(r.code).toBe(0);
    expect(s.machines.machine("OCTO3").created[0]).toMatchObject({ config: "D:\\O\\x.config", home: "D:\\O", nodeName: "OCTO3" });
  });
});
