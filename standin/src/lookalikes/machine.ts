/** The simulated machines behind the look-alikes: node state from the stand-in's control API, service acts through the node's own executable. */
import { execFile } from "node:child_process";
import { appendFileSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { ControlInfo } from "../control-info.js";
import type { ClusterState } from "../model.js";
import type { HostFault, LookalikeConfig, LookalikeHost } from "./config.js";

export interface Machine {
  host: string;
  spec: LookalikeHost | undefined;
  fault: HostFault | undefined;
}

export function machine(config: LookalikeConfig, host: string): Machine {
  const faults = existsSync(config.faultsFile) ? (JSON.parse(readFileSync(config.faultsFile, "utf8")) as Record<string, HostFault>) : {};
  const key = host.toUpperCase();
  return { host, spec: config.hosts[key], fault: faults[key] };
}

export function logCall(config: LookalikeConfig, tool: string, argv: string[]): void {
  appendFileSync(config.callsFile, `${JSON.stringify({ tool, argv })}\n`);
}

/** A command that never returns (until it is killed). */
export function hang(): Promise<never> {
  return new Promise(() => setInterval(() => undefined, 60_000));
}

export async function nodeRunning(config: LookalikeConfig, node: string): Promise<boolean> {
  const info = JSON.parse(readFileSync(config.controlFile, "utf8")) as ControlInfo;
  const res = await fetch(`${info.controlUrl}/state`, { headers: { "X-Standin-Token": info.token }, signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`the stand-in's control API answered ${res.status}`);
  const { state } = (await res.json()) as { state: ClusterState };
  const n = state.nodes.find((x) => x.name.toLowerCase() === node.toLowerCase());
  if (!n) throw new Error(`the stand-in has no node ${node}`);
  return n.running;
}

export interface ExeRun {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** The machine's own Octopus.Server executable: `service --stop|--start --instance=<instance>`. */
export function runServerExe(spec: LookalikeHost, action: "stop" | "start", instance: string): Promise<ExeRun> {
  return new Promise((resolve) => {
    execFile(spec.serverExe, ["service", `--${action}`, `--instance=${instance}`], { timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === "number" ? (error as { code: number }).code : 1) : 0;
      resolve({ exitCode: code, stdout, stderr });
    });
  });
}

/** Octopus's message for an instance this machine does not have (reference: shared library's text, exit 1). */
export function unknownInstance(spec: LookalikeHost, instance: string): ExeRun {
  const available = spec.instances.join(", ");
  return {
    exitCode: 1,
    stdout: "",
    stderr: `Instance ${instance} of OctopusServer has not been configured on this machine. Available instances: ${available}.\n`,
  };
}

export function hasInstance(spec: LookalikeHost, instance: string): string | undefined {
  return spec.instances.find((i) => i.toLowerCase() === instance.toLowerCase());
}

interface Pending {
  state: number;
  remaining: number;
}

const pendingFile = (config: LookalikeConfig, host: string) => path.join(config.stateDir, `pending-${host.toUpperCase()}.json`);

export function setPending(config: LookalikeConfig, host: string, state: number): void {
  if (config.pendingQueries > 0) writeFileSync(pendingFile(config, host), JSON.stringify({ state, remaining: config.pendingQueries }));
}

/** The pending state a query still reports (and one fewer left), if any. */
export function takePending(config: LookalikeConfig, host: string): number | undefined {
  const file = pendingFile(config, host);
  if (!existsSync(file)) return undefined;
  const p = JSON.parse(readFileSync(file, "utf8")) as Pending;
  if (p.remaining <= 1) rmSync(file, { force: true });
  else writeFileSync(file, JSON.stringify({ ...p, remaining: p.remaining - 1 }));
  return p.state;
}
