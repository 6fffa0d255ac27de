/**
 * Look-alikes of sc.exe, powershell.exe (WinRM) and ssh over the stand-in's simulated machines, for
 * tests of octoha's node-control recipes: HOST is the stand-in node of that name, and each acts by
 * running that node's own Octopus.Server executable and reading its state through the control API.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { RunningStandin } from "../standin.js";
import { CONFIG_ENV, DEFAULT_UNIT, DEFAULT_WINDOWS_EXE, type HostFault, type LookalikeConfig } from "./config.js";

export { DEFAULT_UNIT, DEFAULT_WINDOWS_EXE, type HostFault } from "./config.js";

export interface LookalikeCall {
  tool: "sc" | "powershell" | "ssh";
  argv: string[];
}

export interface NodeControlLookalikes {
  dir: string;
  sc: string;
  powershell: string;
  ssh: string;
  /** Make a host fail (or behave again with undefined), for every look-alike. */
  setFault(host: string, fault: HostFault | undefined): void;
  /** Every call made so far, in order. */
  calls(): LookalikeCall[];
}

export interface LookalikeOptions {
  /** Octopus instances on every machine (default ["OctopusServer"]). */
  instances?: string[];
}

export function writeNodeControlLookalikes(dir: string, standin: RunningStandin, options: LookalikeOptions = {}): NodeControlLookalikes {
  const abs = path.resolve(dir);
  mkdirSync(path.join(abs, "state"), { recursive: true });
  const config: LookalikeConfig = {
    controlFile: standin.controlFile,
    hosts: Object.fromEntries(
      [...standin.nodes, ...standin.spareMachines.map((m) => ({ ...m, instances: [] as string[] }))].map((n) => [
        n.name.toUpperCase(),
        {
          node: n.name,
          instances: options.instances ?? n.instances,
          windowsExe: DEFAULT_WINDOWS_EXE,
          unit: DEFAULT_UNIT,
        },
      ]),
    ),
    faultsFile: path.join(abs, "faults.json"),
    callsFile: path.join(abs, "calls.jsonl"),
    stateDir: path.join(abs, "state"),
  };
  const configFile = path.join(abs, "lookalikes.json");
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  writeFileSync(config.faultsFile, "{}");
  writeFileSync(config.callsFile, "");
  const bin = lookalikeBinPath();
  const script = (tool: string) => {
    const file = path.join(abs, tool);
    writeFileSync(file, `#!/bin/sh\n${CONFIG_ENV}=${q(configFile)} exec ${q(process.execPath)} ${q(bin)} ${tool} "$@"\n`);
    chmodSync(file, 0o755);
    return file;
  };
  return {
    dir: abs,
    sc: script("sc"),
    powershell: script("powershell"),
    ssh: script("ssh"),
    setFault(host, fault) {
      const faults = JSON.parse(readFileSync(config.faultsFile, "utf8")) as Record<string, HostFault>;
      if (fault) faults[host.toUpperCase()] = fault;
      else delete faults[host.toUpperCase()];
      writeFileSync(config.faultsFile, JSON.stringify(faults));
    },
    calls() {
      return readFileSync(config.callsFile, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as LookalikeCall);
    },
  };
}

function lookalikeBinPath(): string {
  const here = fileURLToPath(new URL("./bin.js", import.meta.url));
  if (existsSync(here)) return here;
  return path.resolve(path.dirname(here), "..", "..", "dist", "lookalikes", "bin.js");
}

function q(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
