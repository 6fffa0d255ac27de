/**
 * octoha's show-configuration parser against the stand-in's octopus-server executable, run as a real
 * process: the console noise before the JSON and both JSON shapes (reference §3).
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStandin, type TestStandin } from "@octoha/standin/testing";
import { parseShowConfiguration, configValue } from "../../src/octopus/cli/folders.js";

const run = promisify(execFile);
let s: TestStandin;
beforeAll(async () => {
  s = await startTestStandin({ version: "2022.1.2000" });
});
afterAll(async () => {
  await s.close();
});

/** OCTO2's own Octopus.Server: it shows that machine's node. */
async function exe(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(s.nodes[1]!.serverExe, args, { env: process.env });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe("octopus-server executable", () => {
  it("show-configuration prints console text before the JSON unless --noconsolelogging; both JSON shapes carry the same keys", async () => {
    const noisy = await exe(["show-configuration", "--format=json", "--instance=OctopusServer"]);
    expect(noisy.code).toBe(0);
    expect(noisy.stdout.startsWith("{")).toBe(false);
    const flat = parseShowConfiguration(noisy.stdout);
    expect(flat["Octopus.Server.NodeName"]).toBe("OCTO2");
    const quiet = await exe([
      "show-configuration",
      "--format",
      "json-hierarchical",
      "--noconsolelogging",
      "--console",
      "--instance=OctopusServer",
    ]);
    const nested = JSON.parse(quiet.stdout) as Record<string, unknown>;
    for (const key of [
      "Octopus.Folders.LogDirectory",
      "Octopus.Folders.ArtifactsDirectory",
      "Octopus.Folders.PackagesDirectory",
      "Octopus.Server.NodeName",
    ]) {
      expect(configValue(nested, key)).toBe(flat[key]);
    }
    expect(configValue(nested, "Octopus.Folders.LogDirectory")).toBe(s.cluster.state().folders.taskLogs);
  });
});
