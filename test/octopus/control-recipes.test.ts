/**
 * Node-control recipes against canned tool output (sc.exe, PowerShell remoting, ssh/systemctl, argv):
 * the argv each builds, how it reads the output, and the error (node, cause, fix, command) each
 * failure becomes. One test runs a real hanging child to prove the timeout kills it.
 */
import { chmodSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runCommand } from "../../src/octopus/cli/exec.js";
import {
  combinedState,
  createServiceControl,
  DEFAULT_TOOLS,
  parseScError,
  parseScState,
  psQuote,
  RecipeNodeServices,
  type ControlRecipe,
  type ServiceControl,
} from "../../src/octopus/control/index.js";
import { OctohaError } from "../../src/shared/errors.js";
import { ExitCode } from "../../src/shared/exit-codes.js";
import type { CommandResult } from "../../src/octopus/cli/exec.js";
import { fakeClock } from "../helpers/fake-clock.js";
import { withTempDir } from "../helpers/cli.js";

const CRLF = (lines: string[]) => `${lines.join("\r\n")}\r\n`;
const scBlock = (state: string) =>
  CRLF([
    "",
    "SERVICE_NAME: OctopusDeploy ",
    "        TYPE               : 10  WIN32_OWN_PROCESS  ",
    `        STATE              : ${state} `,
    "                                (STOPPABLE, NOT_PAUSABLE, ACCEPTS_SHUTDOWN)",
    "        WIN32_EXIT_CODE    : 0  (0x0)",
    "        SERVICE_EXIT_CODE  : 0  (0x0)",
    "        CHECKPOINT         : 0x0",
    "        WAIT_HINT          : 0x0",
  ]);
const scFail = (api: string, code: number, text: string): CommandResult => ({
  exitCode: code & 0xff,
  stdout: CRLF([`[SC] ${api} FAILED ${code}:`, "", text, ""]),
  stderr: "",
});
const ok = (stdout: string): CommandResult => ({ exitCode: 0, stdout, stderr: "" });

/** A recipe whose commands answer from a script of results, recording each argv. */
function scripted(recipe: ControlRecipe, answers: (argv: readonly string[], i: number) => CommandResult, timeoutMs = 60_000) {
  const calls: string[][] = [];
  const clock = fakeClock();
  const control: ServiceControl = createServiceControl(recipe, {
    node: "OCTO2",
    serverExe: "C:\\Program Files\\Octopus Deploy\\Octopus\\Octopus.Server.exe",
    instance: "OctopusServer",
    tools: DEFAULT_TOOLS,
    clock,
    timeoutMs,
    run: (argv) => {
      calls.push([...argv]);
      return Promise.resolve(answers(argv, calls.length - 1));
    },
  });
  return { control, calls, clock };
}

async function failure(p: Promise<unknown>): Promise<OctohaError> {
  const e = await p.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(e).toBeInstanceOf(OctohaError);
  return e as OctohaError;
}

describe("sc recipe (sc.exe \\\\HOST query|stop|start <service>)", () => {
  it("reads STATE by its number and the [SC] error code in any language", () => {
    expect(parseScState(scBlock("4  RUNNING"))).toBe(4);
    expect(parseScState(scBlock("3  STOP_PENDING"))).toBe(3);
    expect(parseScError(scFail("OpenService", 1060, "x").stdout)).toBe(1060);
    expect(parseScError("[SC] OpenService FEHLER 1060:\r\n\r\nDer angegebene Dienst ...")).toBe(1060);
    expect(parseScError(scBlock("1  STOPPED"))).toBeUndefined();
  });

  it("stop returns only once query says STOPPED: it polls through STOP_PENDING", async () => {
    const answers = [scBlock("3  STOP_PENDING"), scBlock("3  STOP_PENDING"), scBlock("3  STOP_PENDING"), scBlock("1  STOPPED")];
    const { control, calls, clock } = scripted({ kind: "sc", host: "OCTO2" }, (_a, i) => ok(answers[i]!));
    await control.stop();
    expect(calls).toEqual([
      ["sc.exe", "\\\\OCTO2", "stop", "OctopusDeploy"],
      ["sc.exe", "\\\\OCTO2", "query", "OctopusDeploy"],
      ["sc.exe", "\\\\OCTO2", "query", "OctopusDeploy"],
      ["sc.exe", "\\\\OCTO2", "query", "OctopusDeploy"],
    ]);
    // Asked again after 250 ms, then after 500 ms: the waits double up to the 1 s poll interval.
    expect(clock.slept).toEqual([250, 500]);
  });

  it("names a named instance's service 'OctopusDeploy: <instance>' and takes the plan's override as one argv element", async () => {
    const a = scripted({ kind: "sc", host: "OCTO2" }, () => ok(scBlock("4  RUNNING")));
    const named = createServiceControl(
      { kind: "sc", host: "OCTO2" },
      {
        node: "OCTO2",
        serverExe: "x",
        instance: "Blue",
        tools: DEFAULT_TOOLS,
        clock: fakeClock(),
        timeoutMs: 1000,
        run: (argv) => {
          a.calls.push([...argv]);
          return Promise.resolve(ok(scBlock("4  RUNNING")));
        },
      },
    );
    await named.status();
    expect(a.calls[0]).toEqual(["sc.exe", "\\\\OCTO2", "query", "OctopusDeploy: Blue"]);
    const b = scripted({ kind: "sc", host: "OCTO2", service: "Octopus Custom" }, () => ok(scBlock("4  RUNNING")));
    expect(await b.control.status()).toEqual({ state: "running", raw: "4  RUNNING" });
    expect(b.calls[0]).toEqual(["sc.exe", "\\\\OCTO2", "query", "Octopus Custom"]);
  });

  it("takes 1062 (already stopped) and 1056 (already running) as done once query agrees", async () => {
    const stop = scripted({ kind: "sc", host: "OCTO2" }, (_a, i) =>
      i === 0 ? scFail("ControlService", 1062, "The service has not been started.") : ok(scBlock("1  STOPPED")),
    );
    await stop.control.stop();
    const start = scripted({ kind: "sc", host: "OCTO2" }, (_a, i) =>
      i === 0 ? scFail("StartService", 1056, "An instance of the service is already running.") : ok(scBlock("4  RUNNING")),
    );
    await start.control.start();
    expect(start.calls.map((c) => c[2])).toEqual(["start", "query"]);
  });

  const cases: [string, CommandResult, string, RegExp, RegExp][] = [
    [
      "1060",
      scFail("OpenService", 1060, "The specified service does not exist as an installed service."),
      "NODE_CONTROL_NO_SERVICE",
      /does not exist on OCTO2/,
      /instance\/service name/,
    ],
    ["5", scFail("OpenSCManager", 5, "Access is denied."), "NODE_CONTROL_DENIED", /access denied/, /local admin rights on OCTO2/],
    [
      "1722",
      scFail("OpenSCManager", 1722, "The RPC server is unavailable."),
      "NODE_CONTROL_UNREACHABLE",
      /RPC server is unavailable/,
      /firewall/,
    ],
  ];
  it.each(cases)("error %s becomes its cause and fix, resumable, with the command to try by hand", async (_c, answer, code, why, fix) => {
    const { control } = scripted({ kind: "sc", host: "OCTO2" }, () => answer);
    const e = await failure(control.stop());
    expect(e.code).toBe(code);
    expect(e.node).toBe("OCTO2");
    expect(e.exitCode).toBe(ExitCode.Resumable);
    expect(e.message).toMatch(why);
    expect(e.hint).toMatch(fix);
    expect(e.hint).toContain("Try it by hand from this machine: sc.exe \\\\OCTO2 stop OctopusDeploy");
  });

  it("a service stuck in STOP_PENDING past the timeout is a timeout naming its state", async () => {
    const { control, clock } = scripted({ kind: "sc", host: "OCTO2" }, () => ok(scBlock("3  STOP_PENDING")), 10_000);
    const e = await failure(control.stop());
    expect(e.code).toBe("NODE_CONTROL_TIMEOUT");
    expect(e.message).toContain("still 3  STOP_PENDING 10 s after sc.exe stop");
    expect(clock.slept.reduce((a, b) => a + b, 0)).toBe(10_000);
  });

  it("a start that falls back to STOPPED is reported at once (the service died), not waited for", async () => {
    const { control } = scripted({ kind: "sc", host: "OCTO2" }, (_a, i) =>
      ok(i === 0 ? scBlock("2  START_PENDING") : scBlock("1  STOPPED")),
    );
    const e = await failure(control.start());
    expect(e.message).toContain("stopped again right after its start");
  });
});

describe("winrm recipe (PowerShell remoting)", () => {
  it("builds one -Command script whose values are single-quoted literals passed by -ArgumentList", async () => {
    const { control, calls } = scripted({ kind: "winrm", host: "OCTO2", serverExe: "D:\\Octopus's Server\\Octopus.Server.exe" }, (_a, i) =>
      ok(i === 0 ? "Service stopped\r\n" : "Stopped\r\n"),
    );
    await control.stop();
    expect(calls[0]!.slice(0, 4)).toEqual(["powershell.exe", "-NoProfile", "-NonInteractive", "-Command"]);
    expect(calls[0]![4]).toBe(
      "$r = Invoke-Command -ComputerName 'OCTO2' -ErrorAction Stop -ScriptBlock { param($exe, $instance) " +
        "$out = & $exe service --stop --instance $instance 2>&1 | Out-String; [pscustomobject]@{ Out = $out; Code = $LASTEXITCODE } } " +
        "-ArgumentList 'D:\\Octopus''s Server\\Octopus.Server.exe', 'OctopusServer'; $r.Out; exit $r.Code",
    );
    expect(calls[1]![4]).toContain("Get-Service -Name $name");
    expect(calls[1]![4]).toContain("-ArgumentList 'OctopusDeploy'");
    expect(calls).toHaveLength(2);
  });

  it("doubles typographic quotes too (PowerShell ends a literal at ’)", () => {
    expect(psQuote("O’Brien'; Remove-Item C:\\")).toBe("'O’’Brien''; Remove-Item C:\\'");
  });

  const record = (id: string, message: string): CommandResult => ({
    exitCode: 1,
    stdout: "",
    stderr:
      `[OCTO2] Connecting to remote server OCTO2 failed with the following error message : ${message}\n` +
      `    + CategoryInfo          : OpenError: (OCTO2:String) [], PSRemotingTransportException\n` +
      `    + FullyQualifiedErrorId : ${id},PSSessionStateBroken\n`,
  });
  const cases: [string, CommandResult, string, RegExp][] = [
    ["access denied", record("AccessDenied", "Access is denied."), "NODE_CONTROL_DENIED", /local administrator on OCTO2/],
    ["host unreachable", record("WinRMOperationTimeout", "WinRM cannot complete the operation."), "NODE_CONTROL_UNREACHABLE", /5985/],
    [
      "unknown service",
      {
        exitCode: 1,
        stdout: "",
        stderr:
          "Cannot find any service with service name 'OctopusDeploy'.\n + FullyQualifiedErrorId : NoServiceFoundForGivenName,Microsoft.PowerShell.Commands.GetServiceCommand",
      },
      "NODE_CONTROL_NO_SERVICE",
      /instance\/service name/,
    ],
  ];
  it.each(cases)("%s: matched on FullyQualifiedErrorId, with the fix", async (_c, answer, code, fix) => {
    const { control } = scripted({ kind: "winrm", host: "OCTO2" }, () => answer);
    const e = await failure(control.status());
    expect([e.code, e.node, e.exitCode]).toEqual([code, "OCTO2", ExitCode.Resumable]);
    expect(e.hint).toMatch(fix);
  });

  it("an instance the node does not have (Octopus's own message, exit 1) is an unknown service", async () => {
    const { control } = scripted({ kind: "winrm", host: "OCTO2", instance: "Blue" }, () => ({
      exitCode: 1,
      stdout: "Instance Blue of OctopusServer has not been configured on this machine. Available instances: OctopusServer.\r\n",
      stderr: "",
    }));
    const e = await failure(control.stop());
    expect(e.code).toBe("NODE_CONTROL_NO_SERVICE");
    expect(e.message).toContain("instance 'Blue' does not exist on OCTO2");
  });

  it("a stop that exits 0 but leaves the service running (Octopus skips a missing service) is not taken for done", async () => {
    const { control } = scripted({ kind: "winrm", host: "OCTO2" }, (_a, i) => ok(i === 0 ? "" : "Running\r\n"));
    const e = await failure(control.stop());
    expect(e.message).toContain("is Running after service --stop");
  });
});

describe("Ctrl-C during a poll wait (the run's abort signal)", () => {
  /** A fake clock whose sleeps only end on abort: a loop that ignored the signal would hang the test. */
  function abortableRecipe(recipe: ControlRecipe, answer: (argv: readonly string[]) => CommandResult) {
    const calls: string[][] = [];
    const controller = new AbortController();
    const base = fakeClock();
    let sleeping: () => void = () => undefined;
    const asleep = new Promise<void>((resolve) => (sleeping = resolve));
    const clock = {
      ...base,
      sleep(ms: number, signal?: AbortSignal) {
        base.slept.push(ms);
        sleeping();
        return new Promise<void>((resolve) => signal?.addEventListener("abort", () => resolve(), { once: true }));
      },
    };
    const control = createServiceControl(recipe, {
      node: "OCTO2",
      serverExe: "Octopus.Server.exe",
      instance: "OctopusServer",
      tools: DEFAULT_TOOLS,
      clock,
      timeoutMs: 60_000,
      signal: controller.signal,
      run: (argv) => {
        calls.push([...argv]);
        return Promise.resolve(answer(argv));
      },
    });
    return { control, calls, controller, asleep, clock: base };
  }

  it.each([
    ["sc", { kind: "sc", host: "OCTO2" } as ControlRecipe, ok(scBlock("3  STOP_PENDING"))],
    ["winrm", { kind: "winrm", host: "OCTO2" } as ControlRecipe, ok("StopPending\r\n")],
  ])("%s: the stop's wait ends at once, resumable, with no further query", async (_k, recipe, pending) => {
    const { control, calls, controller, asleep, clock } = abortableRecipe(recipe, () => pending);
    const stopping = failure(control.stop());
    await asleep;
    const asked = calls.length;
    controller.abort();
    const e = await stopping;
    expect([e.code, e.node, e.exitCode]).toEqual(["INTERRUPTED", "OCTO2", ExitCode.Resumable]);
    expect(e.message).toContain("stopped while waiting for the service OctopusDeploy on OCTO2");
    expect(calls.length).toBe(asked);
    expect(clock.slept).toEqual([250]);
  });

  it("a signal already aborted stops the loop at its first wait: no second query", async () => {
    const { control, calls, controller, clock } = abortableRecipe({ kind: "sc", host: "OCTO2" }, () => ok(scBlock("3  STOP_PENDING")));
    controller.abort();
    const e = await failure(control.stop());
    expect(e.code).toBe("INTERRUPTED");
    expect(calls.map((c) => c[2])).toEqual(["stop", "query"]);
    expect(clock.slept).toEqual([]);
  });
});

describe("ssh recipe (ssh + systemctl)", () => {
  it("builds ssh -o BatchMode=yes user@host sudo -n systemctl <verb> <unit>, and reads is-active", async () => {
    const { control, calls } = scripted({ kind: "ssh", host: "octo2.corp", user: "octoha", sudo: true }, (_a, i) =>
      i === 0 ? ok("") : { exitCode: 3, stdout: "inactive\n", stderr: "" },
    );
    await control.stop();
    expect(calls).toEqual([
      ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=15", "octoha@octo2.corp", "sudo", "-n", "systemctl", "stop", "octopusdeploy"],
      ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=15", "octoha@octo2.corp", "systemctl", "is-active", "octopusdeploy"],
    ]);
  });

  it("refuses a unit that would reach the remote shell with a metacharacter", () => {
    expect(() => scripted({ kind: "ssh", host: "octo2", unit: "x;reboot" }, () => ok(""))).toThrow(/not a safe/);
  });

  const cases: [string, CommandResult, string, RegExp][] = [
    [
      "no key",
      { exitCode: 255, stdout: "", stderr: "octoha@octo2: Permission denied (publickey).\r\n" },
      "NODE_CONTROL_DENIED",
      /key-based login/,
    ],
    [
      "host down",
      { exitCode: 255, stdout: "", stderr: "ssh: connect to host octo2 port 22: Connection refused\r\n" },
      "NODE_CONTROL_UNREACHABLE",
      /TCP 22/,
    ],
    ["sudo password", { exitCode: 1, stdout: "", stderr: "sudo: a password is required\n" }, "NODE_CONTROL_DENIED", /passwordless sudo/],
    [
      "unknown unit",
      { exitCode: 5, stdout: "", stderr: "Failed to stop octopusdeploy.service: Unit octopusdeploy.service not loaded.\n" },
      "NODE_CONTROL_NO_SERVICE",
      /unit name/,
    ],
  ];
  it.each(cases)("%s", async (_c, answer, code, fix) => {
    const { control } = scripted({ kind: "ssh", host: "octo2", user: "octoha", sudo: true }, () => answer);
    const e = await failure(control.stop());
    expect([e.code, e.node, e.exitCode]).toEqual([code, "OCTO2", ExitCode.Resumable]);
    expect(e.hint).toMatch(fix);
  });
});

describe("argv recipe and the deprecated service alias", () => {
  it("runs the plan's argv and reads its status from the last word or exit 3", async () => {
    const recipe: ControlRecipe = {
      kind: "argv",
      stop: ["docker", "stop", "octo"],
      start: ["docker", "start", "octo"],
      status: ["docker", "inspect", "octo"],
    };
    const answers: CommandResult[] = [ok("true\n"), ok("false\n"), { exitCode: 3, stdout: "", stderr: "" }];
    const { control, calls } = scripted(recipe, (_a, i) => answers[i]!);
    expect((await control.status())?.state).toBe("running");
    expect((await control.status())?.state).toBe("stopped");
    expect((await control.status())?.state).toBe("stopped");
    expect(calls[0]).toEqual(["docker", "inspect", "octo"]);
    const failing = scripted(recipe, () => ({ exitCode: 1, stdout: "", stderr: "Error: No such container: octo" }));
    const e = await failure(failing.control.stop());
    expect(e.hint).toContain("No such container");
    expect(e.hint).toContain("Try it by hand from this machine: docker stop octo");
  });
});

describe("state is proven two ways: the recipe's status and the node's ping", () => {
  it("combines them, and a node whose service manager says stopped while its ping answers is not stopped", () => {
    expect(combinedState({ state: "stopped", raw: "1  STOPPED" }, "stopped")).toBe("stopped");
    expect(combinedState({ state: "stopped", raw: "1  STOPPED" }, "running")).toBe("unknown");
    expect(combinedState({ state: "running", raw: "4  RUNNING" }, "running")).toBe("running");
    expect(combinedState({ state: "running", raw: "4  RUNNING" }, "stopped")).toBe("unknown");
    expect(combinedState({ state: "pending", raw: "3  STOP_PENDING" }, "stopped")).toBe("unknown");
    expect(combinedState(undefined, "running")).toBe("running");
  });

  it("check() reports the recipe, its status, the ping, or the error with its fix", async () => {
    const services = new RecipeNodeServices({
      recipes: { OCTO1: { kind: "sc", host: "OCTO1" }, OCTO2: { kind: "sc", host: "OCTO2" } },
      serverExe: "Octopus.Server.exe",
      instance: "OctopusServer",
      tools: DEFAULT_TOOLS,
      timeoutMs: 1000,
      ping: (n) => Promise.resolve(n === "OCTO1" ? "running" : "stopped"),
      runner: (node) => () =>
        Promise.resolve(node === "OCTO1" ? ok(scBlock("4  RUNNING")) : scFail("OpenSCManager", 5, "Access is denied.")),
    });
    expect(await services.check("OCTO1")).toEqual({
      recipe: "sc.exe \\\\OCTO1 (service OctopusDeploy)",
      status: { state: "running", raw: "4  RUNNING" },
      ping: "running",
      state: "running",
    });
    const denied = await services.check("OCTO2");
    expect(denied.error?.code).toBe("NODE_CONTROL_DENIED");
    expect(denied.error?.hint).toContain("local admin rights on OCTO2");
  });
});

describe("a command that hangs", () => {
  it("is killed at its timeout and reported with its node and the exact command to try by hand", async () =>
    withTempDir(async (dir) => {
      const tool = path.join(dir, "sc");
      writeFileSync(tool, "#!/bin/sh\nexec sleep 30\n");
      chmodSync(tool, 0o755);
      const e = await failure(
        runCommand([tool, "\\\\OCTO2", "stop", "OctopusDeploy: Blue"], {
          node: "OCTO2",
          timeoutMs: 300,
          notFoundHint: "n/a",
          timeoutHint: "sc.exe waits for the remote service manager.",
        }),
      );
      expect([e.code, e.node, e.exitCode]).toEqual(["NODE_CONTROL_TIMEOUT", "OCTO2", ExitCode.Resumable]);
      expect(e.message).toContain("was killed");
      expect(e.hint).toContain(`Try it by hand from this machine: ${tool} \\\\OCTO2 stop "OctopusDeploy: Blue"`);
    }));
});

describe("Octopus.Server.exe database through a recipe (database.moveTo)", () => {
  const CS = "Server=ag-listener;Database=Octopus;User Id=octopus;Password=N3w-S3cret;MultiSubnetFailover=True";

  it("local and argv (serverExe) run database on the node's executable with the instance and the string as one argument", async () => {
    const local = scripted({ kind: "local" }, () => ok("Saved"));
    await local.control.setDatabase!(CS);
    expect(local.calls).toEqual([
      [
        "C:\\Program Files\\Octopus Deploy\\Octopus\\Octopus.Server.exe",
        "database",
        "--instance=OctopusServer",
        `--connectionString=${CS}`,
      ],
    ]);
    const argv = scripted(
      { kind: "argv", stop: ["x"], start: ["y"], serverExe: ["docker", "exec", "octo2", "/Octopus/Octopus.Server"] },
      () => ok(""),
    );
    await argv.control.setDatabase!(CS);
    expect(argv.calls).toEqual([
      ["docker", "exec", "octo2", "/Octopus/Octopus.Server", "database", "--instance=OctopusServer", `--connectionString=${CS}`],
    ]);
  });

  it("winrm runs it on the host through Invoke-Command, the string a single-quoted literal", async () => {
    const w = scripted({ kind: "winrm", host: "OCTO2" }, () => ok(""));
    await w.control.setDatabase!(`${CS};Application Name='x'`);
    const script = w.calls[0]!.at(-1)!;
    expect(script).toContain("Invoke-Command -ComputerName 'OCTO2'");
    expect(script).toContain('& $exe database --instance $instance "--connectionString=$cs"');
    expect(script).toContain(`'${CS};Application Name=''x'''`);
  });

  it("sc, ssh and argv without serverExe cannot run it: no setDatabase, and the adapter says which recipes can", async () => {
    expect(scripted({ kind: "sc", host: "OCTO2" }, () => ok("")).control.setDatabase).toBeUndefined();
    expect(scripted({ kind: "ssh", host: "OCTO2" }, () => ok("")).control.setDatabase).toBeUndefined();
    expect(scripted({ kind: "argv", stop: ["x"], start: ["y"] }, () => ok("")).control.setDatabase).toBeUndefined();
    const services = new RecipeNodeServices({
      recipes: { OCTO2: { kind: "sc", host: "OCTO2" } },
      serverExe: "Octopus.Server.exe",
      instance: "OctopusServer",
      tools: DEFAULT_TOOLS,
      timeoutMs: 1000,
      ping: async () => "stopped",
      runner: () => () => Promise.resolve(ok("")),
    });
    await expect(services.setConnectionString("OCTO2", CS)).rejects.toMatchObject({ code: "NODE_CONTROL_NO_DATABASE", node: "OCTO2" });
  });

  it("a failure is resumable and names the node, with the command to try by hand, the string and its echo redacted", async () => {
    const services = new RecipeNodeServices({
      recipes: { OCTO2: { kind: "argv", stop: ["x"], start: ["y"], serverExe: ["octopus-server-OCTO2"] } },
      serverExe: "Octopus.Server.exe",
      instance: "OctopusServer",
      tools: DEFAULT_TOOLS,
      timeoutMs: 1000,
      ping: async () => "stopped",
      runner: () => () => Promise.resolve({ exitCode: 1, stdout: `Could not connect using ${CS}`, stderr: "" }),
    });
    const error = (await services.setConnectionString("OCTO2", CS).catch((e: unknown) => e)) as OctohaError;
    expect(error.exitCode).toBe(ExitCode.Resumable);
    expect(error.message).toBe("Node OCTO2: Octopus.Server.exe database exited with code 1");
    const text = `${error.message}\n${error.hint ?? ""}`;
    expect(text).toContain(
      'Try it by hand from this machine: octopus-server-OCTO2 database --instance=OctopusServer "--connectionString=***"',
    );
    expect(text).not.toContain("N3w-S3cret");
    expect(text).not.toContain("ag-listener;Database");
  });
});
