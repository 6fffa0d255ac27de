/**
 * The stand-in's octopus-server executable, run as a real process: the same options and output shapes
 * as Octopus.Server.exe (reference §3), acting on the running stand-in's state.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStandin, type TestStandin } from "../src/testing/harness.js";
import { exe as runExe, type ExeResult } from "./exe.js";

let s: TestStandin;
beforeAll(async () => {
  s = await startTestStandin({ version: "2022.1.2000" });
});
afterAll(async () => {
  await s.close();
});

const exe = (args: string[], file = s.serverExe): Promise<ExeResult> => runExe(file, args);

describe("octopus-server executable", () => {
  it("path accepts both --x=v and --x v, writes the cluster-wide folders, and a restarted node picks them up", async () => {
    const r = await exe([
      "path",
      "--instance",
      "OctopusServer",
      "--taskLogs",
      "\\\\fs01\\OctopusShared\\TaskLogs",
      "--artifacts=\\\\fs01\\OctopusShared\\Artifacts",
    ]);
    expect(r).toMatchObject({ code: 0 });
    expect(s.cluster.state().folders.taskLogs).toBe("\\\\fs01\\OctopusShared\\TaskLogs");
    expect(s.cluster.node("OCTO1").effectiveFolders.taskLogs).toBe("C:\\Octopus\\TaskLogs");
    expect((await exe(["service", "--stop", "--instance=OctopusServer"], s.nodes[0]!.serverExe)).code).toBe(0);
    expect(s.cluster.node("OCTO1").running).toBe(false);
    expect((await exe(["service", "--start"], s.nodes[0]!.serverExe)).code).toBe(0);
    expect(s.cluster.node("OCTO1").effectiveFolders.taskLogs).toBe("\\\\fs01\\OctopusShared\\TaskLogs");
    expect(s.cluster.node("OCTO2").effectiveFolders.taskLogs).toBe("C:\\Octopus\\TaskLogs");
  });

  it("path refuses an option this Octopus version does not have, like its CLI, and changes nothing", async () => {
    const before = s.cluster.state().folders;
    const r = await exe(["path", "--taskLogs=\\\\x\\TaskLogs", "--eventExports=\\\\x\\EventExports"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Unrecognized command line arguments: --eventExports/);
    expect(s.cluster.state().folders).toEqual(before);
  });

  it("relative paths after --clusterShared land under the cluster-shared folder", async () => {
    expect((await exe(["path", "--clusterShared=\\\\fs01\\OctopusShared", "--imports=Imports"])).code).toBe(0);
    expect(s.cluster.state().folders.imports).toBe("\\\\fs01\\OctopusShared\\Imports");
  });

  it("the failing-path fault makes path exit 1 without changing anything", async () => {
    await fetch(`${s.controlUrl}/executable-faults`, {
      method: "POST",
      headers: { "X-Standin-Token": s.controlToken },
      body: JSON.stringify({ failPath: true }),
    });
    const before = s.cluster.state().folders;
    const r = await exe(["path", "--taskLogs=\\\\y\\TaskLogs"]);
    await fetch(`${s.controlUrl}/executable-faults`, {
      method: "POST",
      headers: { "X-Standin-Token": s.controlToken },
      body: JSON.stringify({ failPath: false }),
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Injected fault/);
    expect(s.cluster.state().folders).toEqual(before);
  });

  it("show-configuration --format=xml writes octopus-settings, to a file with --file", async () => {
    const file = path.join(s.tmp, "config.xml");
    expect((await exe(["show-configuration", "--format=XML", `--file=${file}`, "--noconsolelogging"])).code).toBe(0);
    expect(readFileSync(file, "utf8")).toMatch(/<set key="Octopus.Folders.LogDirectory">/);
  });

  it("service refuses an instance that is not installed on its machine, even one named like another node", async () => {
    const r = await exe(["service", "--stop", "--instance=OCTO2"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("Instance OCTO2 of OctopusServer has not been configured on this machine. Available instances: OctopusServer.\n");
    expect(s.cluster.nodes().map((n) => n.running)).toEqual([true, true]);
  });

  it("refuses the old OCTOHA_STANDIN_NODE instead of silently acting on its own machine", async () => {
    const r = await runExe(s.serverExe, ["service", "--stop"], { ...process.env, OCTOHA_STANDIN_NODE: "OCTO2" });
    expect(r).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/OCTOHA_STANDIN_NODE is no longer read: set OCTOHA_STANDIN_MACHINE/),
    });
    expect(s.cluster.nodes().map((n) => n.running)).toEqual([true, true]);
  });

  it("commands it does not simulate fail and say so", async () => {
    const r = await exe(["admin", "--username=admin"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not simulated/);
  });
});
