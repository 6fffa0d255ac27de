/**
 * A client of the stand-in's control API for processes (the octopus-server executable, and look-alikes
 * of sc.exe, PowerShell remoting or ssh): it finds the stand-in through $OCTOHA_STANDIN_CONTROL and
 * the machine it runs on through $OCTOHA_STANDIN_MACHINE (else the control file's localMachine).
 */
import { readFileSync } from "node:fs";
import { CONTROL_ENV, MACHINE_ENV, type ControlInfo } from "./control-info.js";
import { controlRequest, type ControlResponse } from "./control-http.js";
import type {
  CreatedInstance,
  InstallResult,
  InstalledService,
  InstanceConfig,
  MachineErrorCode,
  MachineFaults,
  MachineView,
} from "./machines.js";
import type { ClusterState, SimFolders } from "./model.js";

/** An error answer of the control API; machine errors carry the service manager's code and Win32 number. */
export class ControlError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code?: MachineErrorCode,
    readonly win32Error?: number,
  ) {
    super(message);
  }
}

export interface ControlClient {
  get<T>(p: string): Promise<T>;
  post<T>(p: string, body: unknown): Promise<T>;
}

export function controlClient(info: ControlInfo): ControlClient {
  const call = async <T>(method: "GET" | "POST", p: string, body?: unknown): Promise<T> => {
    let res: ControlResponse;
    try {
      res = await controlRequest(`${info.controlUrl}/${p}`, {
        method,
        token: info.token,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      throw new ControlError(
        `Could not connect to the database: the stand-in at ${info.controlUrl} did not answer (${(error as Error).message}).`,
        0,
      );
    }
    const { text } = res;
    if (!res.ok) {
      const e = JSON.parse(text) as { ErrorMessage?: string; code?: MachineErrorCode; win32Error?: number };
      throw new ControlError(e.ErrorMessage ?? `HTTP ${res.status}`, res.status, e.code, e.win32Error);
    }
    return JSON.parse(text) as T;
  };
  return { get: (p) => call("GET", p), post: (p, body) => call("POST", p, body) };
}

/** The control file named by $OCTOHA_STANDIN_CONTROL. */
export function readControlInfo(env: NodeJS.ProcessEnv = process.env): ControlInfo {
  const controlPath = env[CONTROL_ENV];
  if (!controlPath)
    throw new Error(`${CONTROL_ENV} is not set: it must name the stand-in's control file (<data dir>/standin-control.json).`);
  return JSON.parse(readFileSync(controlPath, "utf8")) as ControlInfo;
}

export interface StandinMachines {
  /** The machine this process runs on. */
  localMachine: string;
  /** Installed instances and faults of a machine (no fault applies to this read). */
  machine(host: string): Promise<MachineView>;
  /** Each installed instance's service and state, as the machine's service manager reports it. */
  services(host: string): Promise<InstalledService[]>;
  /** One service by its key name; ControlError code serviceDoesNotExist (1060) when not installed. */
  service(host: string, service: string): Promise<InstalledService>;
  /** Ask the service manager to stop or start a service by its key name; returns at *_PENDING. */
  control(host: string, service: string, action: "stop" | "start"): Promise<InstalledService>;
  setFaults(host: string, faults: MachineFaults): Promise<MachineView>;
  /** create-instance on a machine (ControlError instanceExists when it has one of that name). */
  createInstance(host: string, config: CreatedInstance): Promise<MachineView>;
  /** configure (and database): merge settings into an instance made by create-instance. */
  configureInstance(host: string, instance: string, change: Partial<CreatedInstance>): Promise<CreatedInstance>;
  /** service --install --start: the service exists and runs; the node registers in the cluster. */
  installAndStart(host: string, instance: string): Promise<InstallResult>;
  /** PowerShell's Test-Path on that machine. */
  testPath(host: string, path: string): Promise<boolean>;
  /** An installed instance's config file (its connection string and master key). */
  config(host: string, instance: string): Promise<InstanceConfig>;
  /** Save a connection string and/or master key in an instance's config; ControlError code masterKeyMismatch. */
  configureDatabase(host: string, instance: string, change: InstanceConfig): Promise<void>;
  /** The database an instance's config names, and its content; ControlError code databaseUnavailable. */
  instanceDatabase(host: string, instance: string): Promise<{ database: string; state: ClusterState }>;
  /** `path` by that instance: the folders written into the database its config names. */
  setInstanceFolders(host: string, instance: string, change: Partial<SimFolders>): Promise<SimFolders>;
}

/** The simulated machines, for a process started with the stand-in's environment. */
export function standinMachines(env: NodeJS.ProcessEnv = process.env): StandinMachines {
  const info = readControlInfo(env);
  const ctl = controlClient(info);
  const host = (h: string) => encodeURIComponent(h);
  return {
    localMachine: env[MACHINE_ENV] || info.localMachine,
    machine: (h) => ctl.get(`machines/${host(h)}`),
    services: async (h) => (await ctl.get<{ services: InstalledService[] }>(`machines/${host(h)}/services`)).services,
    service: (h, service) => ctl.get(`machines/${host(h)}/services/${encodeURIComponent(service)}`),
    control: (h, service, action) => ctl.post(`machines/${host(h)}/services/${encodeURIComponent(service)}/${action}`, {}),
    setFaults: (h, faults) => ctl.post(`machines/${host(h)}/faults`, faults),
    createInstance: (h, config) => ctl.post(`machines/${host(h)}/instances`, config),
    configureInstance: (h, i, change) => ctl.post(`machines/${host(h)}/instances/${encodeURIComponent(i)}/configure`, change),
    installAndStart: (h, i) => ctl.post(`machines/${host(h)}/instances/${encodeURIComponent(i)}/install`, {}),
    testPath: async (h, p) => (await ctl.post<{ exists: boolean }>(`machines/${host(h)}/test-path`, { path: p })).exists,
    config: (h, instance) => ctl.get(`machines/${host(h)}/instances/${encodeURIComponent(instance)}/config`),
    configureDatabase: async (h, instance, change) => {
      await ctl.post(`machines/${host(h)}/instances/${encodeURIComponent(instance)}/database`, change);
    },
    instanceDatabase: (h, instance) => ctl.get(`machines/${host(h)}/instances/${encodeURIComponent(instance)}/database`),
    setInstanceFolders: (h, instance, change) => ctl.post(`machines/${host(h)}/instances/${encodeURIComponent(instance)}/path`, change),
  };
}
