/** The simulated machines behind the look-alikes: node state from the stand-in's control API, service acts through the node's own executable. */
import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { CONTROL_ENV, MACHINE_ENV, type ControlInfo } from "../control-info.js";
import { controlRequest } from "../control-http.js";
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

export interface ExeRun {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** The machine's own Octopus.Server executable: `service --stop|--start --instance=<instance>`. */
export function runServerExe(config: LookalikeConfig, spec: LookalikeHost, action: "stop" | "start", instance: string): Promise<ExeRun> {
  return runServerExeArgs(config, spec, ["service", `--${action}`, `--instance=${instance}`]);
}

/**
 * The machine's own Octopus.Server executable with any arguments (create-instance, database, configure, service,
 * version): the code its script (the stand-in's bin/octopus-server-<node>) runs, with that script's environment,
 * in this process. A second Node start would cost ~80 ms of CPU, and the suite makes hundreds of these calls.
 */
export async function runServerExeArgs(config: LookalikeConfig, spec: LookalikeHost, args: string[]): Promise<ExeRun> {
  // Loaded here: sc never runs it, and every look-alike process would pay for the import.
  const { runOctopusServer } = await import("../octopus-server.js");
  return runOctopusServer(args, { env: { ...process.env, [MACHINE_ENV]: spec.node, [CONTROL_ENV]: config.controlFile } });
}

/** PowerShell's Test-Path on the machine: POST /__standin/machines/<host>/test-path (its share fault answers False). */
export async function machineTestPath(config: LookalikeConfig, host: string, p: string): Promise<boolean> {
  const info = JSON.parse(readFileSync(config.controlFile, "utf8")) as ControlInfo;
  const res = await controlRequest(`${info.controlUrl}/machines/${encodeURIComponent(host)}/test-path`, {
    method: "POST",
    token: info.token,
    body: JSON.stringify({ path: p }),
  });
  const body = JSON.parse(res.text) as { exists?: boolean; ErrorMessage?: string };
  if (!res.ok) throw new Error(body.ErrorMessage ?? `HTTP ${res.status}`);
  return body.exists === true;
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

/** A service as the stand-in's machines model answers (machines.ts), or the service manager's refusal. */
export type ServiceAnswer =
  { ok: true; state: string; instance: string; win32ExitCode?: number } | { ok: false; code: string; win32?: number };

/** GET (or POST stop/start) /__standin/machines/<host>/services/<service>: the machine's service manager. */
export async function machineService(
  config: LookalikeConfig,
  host: string,
  service: string,
  action?: "stop" | "start",
): Promise<ServiceAnswer> {
  const info = JSON.parse(readFileSync(config.controlFile, "utf8")) as ControlInfo;
  const url = `${info.controlUrl}/machines/${encodeURIComponent(host)}/services/${encodeURIComponent(service)}${action ? `/${action}` : ""}`;
  const res = await controlRequest(url, { method: action ? "POST" : "GET", token: info.token, ...(action ? { body: "{}" } : {}) });
  const body = JSON.parse(res.text) as { state?: string; instance?: string; code?: string; win32Error?: number; win32ExitCode?: number };
  if (res.ok)
    return {
      ok: true,
      state: body.state ?? "",
      instance: body.instance ?? "",
      ...(body.win32ExitCode ? { win32ExitCode: body.win32ExitCode } : {}),
    };
  return { ok: false, code: body.code ?? `HTTP ${res.status}`, ...(body.win32Error ? { win32: body.win32Error } : {}) };
}
