/**
 * How each recipe runs Octopus.Server on the joining node, and where the secrets go: never into an argv octoha
 * builds for a remote recipe (winrm: the local PowerShell's own variables; ssh: stdin), and never into a shown line.
 */
import { describe, expect, it } from "vitest";
import { canRunCommands, createNodeShell, DEFAULT_TOOLS, type ShellArg } from "../../src/octopus/control/index.js";
import { commandLine } from "../../src/join/commands.js";
import { parseVersion } from "../../src/steps/join.js";

const SECRET = "5qJcW9E6B99teMmrOzaYNA==";
const CONN = "Server=sql;Database=Octopus;User Id=octo;Password=Pa55";
const ARGS: ShellArg[] = [
  "database",
  "--instance",
  "OctopusServer",
  "--connectionString",
  { secret: "CS" },
  "--masterKey",
  { secret: "MK" },
];

interface Call {
  argv: readonly string[];
  env?: Record<string, string>;
  stdin?: string;
}

function shellFor(recipe: Parameters<typeof createNodeShell>[0], stdout = "") {
  const calls: Call[] = [];
  const shell = createNodeShell(recipe, {
    node: "OCTO3",
    serverExe: "/opt/octopus/Octopus.Server",
    tools: DEFAULT_TOOLS,
    secrets: { MK: SECRET, CS: CONN },
    run: (argv, o) => {
      calls.push({ argv, ...(o?.env ? { env: o.env } : {}), ...(o?.stdin !== undefined ? { stdin: o.stdin } : {}) });
      return Promise.resolve({ exitCode: 0, stdout, stderr: "" });
    },
  });
  return { shell, calls };
}

describe("node shells: Octopus.Server on the joining node", () => {
  it("winrm passes the secrets as the local PowerShell's variables, referenced by name in the script", async () => {
    const { shell, calls } = shellFor({ kind: "winrm", host: "OCTO3" });
    await shell.server(ARGS);
    const script = calls[0]!.argv.join(" ");
    expect(script).not.toContain(SECRET);
    expect(script).not.toContain(CONN);
    expect(script).toContain(
      "@('database', '--instance', 'OctopusServer', '--connectionString', $env:OCTOHA_SECRET_CS, '--masterKey', $env:OCTOHA_SECRET_MK)",
    );
    expect(calls[0]!.env).toEqual({ OCTOHA_SECRET_MK: SECRET, OCTOHA_SECRET_CS: CONN });
    expect(shell.shown(ARGS)).toMatch(/--masterKey <redacted>/);
  });

  it("ssh sends the secrets on stdin and reads them into shell variables on the node", async () => {
    const { shell, calls } = shellFor({ kind: "ssh", host: "octo3.corp", user: "octo", sudo: true });
    await shell.server(ARGS);
    const argv = calls[0]!.argv;
    expect(argv.join(" ")).not.toContain(SECRET);
    expect(argv.join(" ")).not.toContain("Pa55");
    expect(argv.slice(0, 6)).toEqual(["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=15", "octo@octo3.corp"]);
    expect(argv[6]).toBe(
      'IFS= read -r S0 && IFS= read -r S1 && sudo -n /opt/octopus/Octopus.Server database --instance OctopusServer --connectionString "$S0" --masterKey "$S1"',
    );
    expect(calls[0]!.stdin).toBe(`${CONN}\n${SECRET}\n`);
  });

  it("argv with exec runs Octopus.Server through the prefix; without exec, and sc, cannot run commands", async () => {
    const { shell, calls } = shellFor({ kind: "argv", stop: ["x"], start: ["y"], exec: ["docker", "exec", "octo3"] });
    await shell.server(["version"]);
    expect(calls[0]!.argv).toEqual(["docker", "exec", "octo3", "/opt/octopus/Octopus.Server", "version"]);
    expect(await shell.testPath("/taskLogs")).toBe(true);
    expect(calls[1]!.argv).toEqual(["docker", "exec", "octo3", "test", "-d", "/taskLogs"]);
    expect(canRunCommands({ kind: "argv", stop: ["x"], start: ["y"] })).toBe(false);
    expect(canRunCommands({ kind: "sc", host: "OCTO3" })).toBe(false);
    expect(canRunCommands({ kind: "winrm", host: "OCTO3" })).toBe(true);
    expect(() =>
      createNodeShell(
        { kind: "sc", host: "OCTO3" },
        { node: "OCTO3", serverExe: "x", tools: DEFAULT_TOOLS, secrets: {}, run: () => Promise.reject(new Error("no")) },
      ),
    ).toThrow(/cannot run commands/);
  });

  it("winrm's by-hand lines are PowerShell: the quoted Octopus.Server.exe behind `&`, written as join --print writes it", () => {
    const exe = "C:\\Program Files\\Octopus Deploy\\Octopus\\Octopus.Server.exe";
    const { shell } = shellFor({ kind: "winrm", host: "OCTO3", serverExe: exe });
    const stop = ["service", "--instance", "OctopusServer", "--stop", "--uninstall"];
    expect(shell.shown(stop)).toBe(
      "Invoke-Command -ComputerName OCTO3 { & 'C:\\Program Files\\Octopus Deploy\\Octopus\\Octopus.Server.exe' service --instance OctopusServer --stop --uninstall }",
    );
    expect(shell.shown(stop)).toBe(`Invoke-Command -ComputerName OCTO3 { ${commandLine("windows", [exe, ...stop])} }`);
    // A secret stays a placeholder PowerShell will not run as it is; a value with a quote is one literal.
    expect(shell.shown(ARGS)).toContain(
      "Octopus.Server.exe' database --instance OctopusServer --connectionString <redacted> --masterKey <redacted> }",
    );
    expect(shell.shown(["create-instance", "--home", "D:\\Octopus Home\\it's"])).toContain(
      "Octopus.Server.exe' create-instance --home 'D:\\Octopus Home\\it''s' }",
    );
  });

  it("by-hand lines read each secret from its variable (winrm through $using:), never <redacted> or the value", () => {
    const exe = "C:\\Program Files\\Octopus Deploy\\Octopus\\Octopus.Server.exe";
    const winrm = shellFor({ kind: "winrm", host: "OCTO3", serverExe: exe }).shell.byHand(ARGS);
    expect(winrm).toBe(
      "$CS = $env:CS; $MK = $env:MK; Invoke-Command -ComputerName OCTO3 { & 'C:\\Program Files\\Octopus Deploy\\Octopus\\Octopus.Server.exe' database --instance OctopusServer --connectionString $using:CS --masterKey $using:MK }",
    );
    const docker = shellFor({ kind: "argv", stop: ["x"], start: ["y"], exec: ["docker", "exec", "octo3"] }).shell.byHand(ARGS);
    expect(docker).toBe(
      'docker exec octo3 /opt/octopus/Octopus.Server database --instance OctopusServer --connectionString "$CS" --masterKey "$MK"',
    );
    for (const line of [winrm, docker]) {
      expect(line).not.toContain("<redacted>");
      expect(line).not.toContain(SECRET);
      expect(line).not.toContain(CONN);
    }
  });

  it("winrm's Test-Path answers from the node's output", async () => {
    expect(await shellFor({ kind: "winrm", host: "OCTO3" }, "True\r\n").shell.testPath("\\\\fs01\\share\\TaskLogs")).toBe(true);
    expect(await shellFor({ kind: "winrm", host: "OCTO3" }, "False\r\n").shell.testPath("\\\\fs01\\share\\TaskLogs")).toBe(false);
  });

  it("reads the installed version from whatever `version` prints", () => {
    expect(parseVersion("2024.1.12345\n")).toBe("2024.1.12345");
    expect(parseVersion('{"Version":"2025.2.10530"}')).toBe("2025.2.10530");
    expect(parseVersion("Octopus Deploy: Octopus Server version 3.17.14 (3.17.14+Branch.master)")).toBe("3.17.14");
    expect(parseVersion("nothing")).toBeUndefined();
  });
});
