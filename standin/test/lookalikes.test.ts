/**
 * The node-control look-alikes as real processes: sc.exe's output format and error codes, PowerShell's
 * remoting error records, ssh/systemd's messages, each acting only through the node's own executable.
 */
import { execFile } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStandin, type TestStandin } from "../src/testing/harness.js";
import { writeNodeControlLookalikes, type NodeControlLookalikes } from "../src/lookalikes/index.js";

let s: TestStandin;
let tools: NodeControlLookalikes;
beforeAll(async () => {
  s = await startTestStandin();
  tools = writeNodeControlLookalikes(path.join(s.tmp, "tools"), s);
});
afterAll(async () => {
  await s.close();
});

function run(file: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(file, args, (error, stdout, stderr) =>
      resolve({ code: error ? Number((error as { code?: number }).code) : 0, stdout, stderr }),
    ),
  );
}

/** Queries until sc says `state` (the machines model settles a pending control after a few hundred ms). */
async function settle(host: string, state: string): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if ((await run(tools.sc, [`\\\\${host}`, "query", "OctopusDeploy"])).stdout.includes(`STATE              : ${state}`)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

describe("sc look-alike", () => {
  it("stop returns at STOP_PENDING and query reaches STOPPED later (the machine's service manager); a second stop is 1062", async () => {
    const stop = await run(tools.sc, ["\\\\OCTO2", "stop", "OctopusDeploy"]);
    expect(stop.code).toBe(0);
    expect(stop.stdout).toContain("\r\nSERVICE_NAME: OctopusDeploy \r\n");
    expect(stop.stdout).toMatch(/^\s+STATE\s+: 3  STOP_PENDING \r$/m);
    expect(await settle("OCTO2", "1  STOPPED")).toBe(true);
    expect(s.cluster.node("OCTO2").running).toBe(false);
    expect(s.cluster.node("OCTO1").running).toBe(true);
    const again = await run(tools.sc, ["\\\\OCTO2", "stop", "OctopusDeploy"]);
    expect(again.stdout).toBe("[SC] ControlService FAILED 1062:\r\n\r\nThe service has not been started.\r\n\r\n");
    expect(again.code).toBe(1062 & 0xff);
    expect((await run(tools.sc, ["\\\\OCTO2", "start", "OctopusDeploy"])).stdout).toContain("2  START_PENDING");
    expect(await settle("OCTO2", "4  RUNNING")).toBe(true);
  });

  it("prints the real failure lines: unknown service 1060, unknown host 1722, denied 5", async () => {
    expect((await run(tools.sc, ["\\\\OCTO1", "query", "OctopusDeploy: Blue"])).stdout).toMatch(
      /^\[SC\] EnumQueryServicesStatus:OpenService FAILED 1060:\r\n\r\nThe specified service does not exist as an installed service\./,
    );
    expect((await run(tools.sc, ["\\\\OCTO9", "stop", "OctopusDeploy"])).stdout).toMatch(/^\[SC\] OpenSCManager FAILED 1722:/);
    tools.setFault("OCTO1", "denied");
    expect((await run(tools.sc, ["\\\\OCTO1", "start", "OctopusDeploy"])).stdout).toMatch(
      /^\[SC\] OpenSCManager FAILED 5:\r\n\r\nAccess is denied\./,
    );
    tools.setFault("OCTO1", undefined);
    s.machines.setFaults("OCTO1", { accessDenied: true });
    expect((await run(tools.sc, ["\\\\OCTO1", "query", "OctopusDeploy"])).stdout).toMatch(/^\[SC\] OpenSCManager FAILED 5:/);
    s.machines.setFaults("OCTO1", { accessDenied: false });
  });
});

describe("powershell and ssh look-alikes", () => {
  it("powershell runs the machine's own executable for octoha's Invoke-Command script and refuses anything else", async () => {
    const script =
      "$r = Invoke-Command -ComputerName 'OCTO1' -ErrorAction Stop -ScriptBlock { param($exe, $instance) $out = & $exe service --stop --instance $instance 2>&1 | Out-String; [pscustomobject]@{ Out = $out; Code = $LASTEXITCODE } } " +
      "-ArgumentList 'C:\\Program Files\\Octopus Deploy\\Octopus\\Octopus.Server.exe', 'OctopusServer'; $r.Out; exit $r.Code";
    expect((await run(tools.powershell, ["-NoProfile", "-NonInteractive", "-Command", script])).code).toBe(0);
    expect(s.cluster.node("OCTO1").running).toBe(false);
    const other = await run(tools.powershell, ["-Command", script.replace("'OctopusServer'", "'Blue'")]);
    expect([other.code, other.stdout]).toEqual([
      1,
      expect.stringContaining("Instance Blue of OctopusServer has not been configured on this machine"),
    ]);
    expect((await run(tools.powershell, ["-Command", "Stop-Computer"])).code).toBe(1);
    s.cluster.startNode("OCTO1");
  });

  it("ssh needs sudo for systemctl stop (polkit refuses), and is-active answers active/inactive", async () => {
    const denied = await run(tools.ssh, ["-o", "BatchMode=yes", "octoha@OCTO2", "systemctl", "stop", "octopusdeploy"]);
    expect([denied.code, denied.stderr]).toEqual([1, expect.stringContaining("Interactive authentication required.")]);
    expect((await run(tools.ssh, ["octoha@OCTO2", "sudo", "-n", "systemctl", "stop", "octopusdeploy"])).code).toBe(0);
    expect(await run(tools.ssh, ["octoha@OCTO2", "systemctl", "is-active", "octopusdeploy"])).toMatchObject({
      code: 3,
      stdout: "inactive\n",
    });
    expect((await run(tools.ssh, ["octoha@nowhere", "systemctl", "is-active", "x"])).code).toBe(255);
    expect(tools.calls().filter((c) => c.tool === "ssh")).toHaveLength(4);
    s.cluster.startNode("OCTO2");
  });
});
