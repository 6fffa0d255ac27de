/** Parsing show-configuration defensively, and how failures of Octopus.Server.exe reach the operator. */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CliServerFolders, configValue, parseShowConfiguration } from "../../src/octopus/cli/folders.js";
import { runExe } from "../../src/octopus/cli/exec.js";
import { InputError, OctohaError } from "../../src/shared/errors.js";
import { redactor } from "../../src/shared/redact.js";

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), "octoha-cli-"));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A stand-in executable: a shell script with the given body. */
function script(name: string, body: string): string {
  const file = path.join(tmp, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}

describe("show-configuration parsing", () => {
  it("finds the JSON after log lines and even an exception with braces in it", () => {
    const out = `Octopus Deploy: Octopus Server version 2019.3.0\nSystem.Exception: could not {read} something\n   at Foo()\n{\n  "Octopus": { "Folders": { "LogDirectory": "C:\\\\Octopus\\\\TaskLogs" } }\n}\n`;
    expect(configValue(parseShowConfiguration(out), "Octopus.Folders.LogDirectory")).toBe("C:\\Octopus\\TaskLogs");
  });

  it("reads flat and hierarchical shapes alike", () => {
    expect(configValue({ "Octopus.Folders.LogDirectory": "X" }, "Octopus.Folders.LogDirectory")).toBe("X");
    expect(configValue({ Octopus: { Folders: { LogDirectory: "Y" } } }, "Octopus.Folders.LogDirectory")).toBe("Y");
  });

  it("output without JSON is an error that says to run the command by hand", () => {
    expect(() => parseShowConfiguration("Unhandled exception: the database is not reachable")).toThrow(OctohaError);
  });
});

describe("running Octopus.Server.exe", () => {
  it("passes paths with spaces, quotes and & as single arguments (no shell)", async () => {
    const log = path.join(tmp, "argv.txt");
    const exe = script("echo-args", `for a in "$@"; do printf '%s\\n' "$a" >> '${log}'; done`);
    const folders = new CliServerFolders({ command: [exe], instance: "My Instance", version: async () => "2024.1.1" });
    await folders.write({ taskLogs: "\\\\fs01\\Octo Share & 'Co'\\TaskLogs" });
    expect(readFileSync(log, "utf8").split("\n").filter(Boolean)).toEqual([
      "path",
      "--instance=My Instance",
      "--taskLogs=\\\\fs01\\Octo Share & 'Co'\\TaskLogs",
    ]);
  });

  it("refuses --imports on a 2020 server before running anything, as bad input", async () => {
    const exe = script("must-not-run", "exit 99");
    const folders = new CliServerFolders({ command: [exe], instance: "OctopusServer", version: async () => "2020.6.1" });
    const e = await folders.write({ taskLogs: "\\\\s\\T", imports: "\\\\s\\I" }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(InputError);
    expect((e as InputError).message).toMatch(/2020.6.1 has no path --imports/);
  });

  it("a non-zero exit names the command, the exit code and stderr, with secrets redacted", async () => {
    redactor.add("s3cret-Passw0rd");
    const exe = script("fails", `echo "Login failed for user sa with password s3cret-Passw0rd" >&2; exit 3`);
    const e = (await runExe([exe, "service", "--stop"]).catch((x: unknown) => x)) as OctohaError;
    expect(e.code).toBe("OCTOPUS_EXE_FAILED");
    expect(e.message).toMatch(/exited with code 3/);
    expect(e.message).toMatch(/Login failed/);
    expect(e.message).not.toContain("s3cret-Passw0rd");
  });

  it("a non-zero exit says to try the command by hand on the machine octoha runs on, where it ran", async () => {
    const exe = script("fails-plainly", "exit 1");
    const e = (await runExe([exe, "path"]).catch((x: unknown) => x)) as OctohaError;
    expect(e.hint).toMatch(/runs octopus.serverExe on this machine/);
    expect(e.hint).toMatch(/run the same command by hand here/);
    expect(e.hint).not.toMatch(/on that node/);
  });

  it("a missing executable says to check octopus.serverExe", async () => {
    const e = (await runExe([path.join(tmp, "no-such-exe")]).catch((x: unknown) => x)) as OctohaError;
    expect(e.code).toBe("OCTOPUS_EXE_NOT_FOUND");
    expect(e.hint).toMatch(/serverExe/);
  });

  it("a hung executable is stopped at the timeout with a retryable error", async () => {
    const exe = script("hangs", "exec sleep 30");
    const e = (await runExe([exe], { timeoutMs: 300 }).catch((x: unknown) => x)) as OctohaError;
    expect(e.code).toBe("OCTOPUS_EXE_TIMEOUT");
    expect(e.behaviour).toBe("retryable");
  });
});
