/**
 * The stand-in's control API (/__standin/ on the load-balanced URL): tests, `octoha standin` and the
 * octopus-server executable arrange state and faults through it. http.ts admits loopback callers with
 * the token only.
 */
import { MaintenanceModeError, NotFoundError, type Cluster } from "./cluster.js";
import type { SimFolders } from "./model.js";
import { HttpError, notFound, type Answer } from "./api-routes.js";
import type { ExecutableFaults, ListenerFaults } from "./faults.js";
import { MachineError, type CreatedInstance, type MachineFaults, type Machines } from "./machines.js";

export interface ControlContext {
  cluster: Cluster;
  setFaults(listener: string, faults: ListenerFaults): void;
  executableFaults: ExecutableFaults;
  /** Wait until node listeners follow a service stop/start. */
  settle(): Promise<void>;
  extensions?: Record<string, (body: Record<string, unknown>) => Promise<unknown> | unknown>;
  machines?: Machines;
}

export async function answerControl(ctx: ControlContext, method: string, pathname: string, body: Record<string, unknown>): Promise<Answer> {
  const { cluster, executableFaults } = ctx;
  const p = pathname.slice("/__standin/".length).replace(/\/+$/, "");
  const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
  try {
    if (p === "state" && method === "GET")
      return { status: 200, body: { state: cluster.state(), revision: cluster.revision(), now: new Date(cluster.now()).toISOString() } };
    if (p === "faults" && method === "POST") {
      const target = str(body.listener) ?? "lb";
      ctx.setFaults(target, (body.faults ?? {}) as ListenerFaults);
      return { status: 200, body: { ok: true } };
    }
    if (p === "executable-faults" && method === "POST") {
      Object.assign(executableFaults, body);
      return { status: 200, body: executableFaults };
    }
    if (p === "executable-faults" && method === "GET") return { status: 200, body: executableFaults };
    if (p === "advance" && method === "POST") {
      cluster.advance(Number(body.ms ?? 0));
      return { status: 200, body: { now: new Date(cluster.now()).toISOString() } };
    }
    if (p === "tasks" && method === "POST") {
      const task = cluster.queueTask({
        name: str(body.name),
        description: str(body.description),
        spaceId: str(body.spaceId),
        isSystem: body.isSystem === true,
        requestedBy: body.requestedBy === "administrator" ? "administrator" : "user",
        durationMs: typeof body.durationMs === "number" ? body.durationMs : undefined,
      });
      return { status: 201, body: task };
    }
    const complete = /^tasks\/([^/]+)\/complete$/.exec(p);
    if (complete && method === "POST") {
      const state = (str(body.state) ?? "Success") as "Success" | "Failed" | "Canceled" | "TimedOut";
      return { status: 200, body: cluster.completeTask(complete[1]!, state) };
    }
    const svc = /^services\/([^/]+)\/(start|stop|stuck|unstuck)$/.exec(p);
    if (svc && method === "POST") {
      const name = decodeURIComponent(svc[1]!);
      if (svc[2] === "stop") cluster.stopNode(name);
      else if (svc[2] === "start") cluster.startNode(name);
      else cluster.setStuck(name, svc[2] === "stuck");
      await ctx.settle();
      return { status: 200, body: cluster.node(name) };
    }
    if (p === "path" && method === "POST") {
      if (executableFaults.failPath) return HttpError(500, "Injected fault: could not write the folder settings to the database.");
      return { status: 200, body: cluster.setFolders(body as Partial<SimFolders>) };
    }
    if (p === "write-file" && method === "POST") {
      return { status: 200, body: { local: cluster.writeFile(String(body.node), String(body.path), String(body.content ?? "")) } };
    }
    if (ctx.machines && (p === "machines" || p.startsWith("machines/"))) {
      const answer = await answerMachines(ctx, ctx.machines, method, p.split("/").slice(1).map(decodeURIComponent), body);
      if (answer) return answer;
    }
    const ext = ctx.extensions?.[p];
    if (ext && method === "POST") return { status: 200, body: (await ext(body)) ?? { ok: true } };
    return notFound(pathname);
  } catch (error) {
    if (error instanceof MachineError) return machineError(error);
    if (error instanceof MaintenanceModeError) return HttpError(error.status, error.message);
    if (error instanceof NotFoundError) return HttpError(404, error.message);
    return HttpError(400, error instanceof Error ? error.message : String(error));
  }
}

/**
 * The simulated machines (machines.ts): what each has installed, its services' states, the service
 * manager's stop/start (returns at *_PENDING) and the unreachable / access-denied knobs.
 */
async function answerMachines(
  ctx: ControlContext,
  machines: Machines,
  method: string,
  parts: string[],
  body: Record<string, unknown>,
): Promise<Answer | undefined> {
  const [host, what, service, action] = parts;
  if (host === undefined && method === "GET")
    return { status: 200, body: { localMachine: machines.localMachine, machines: machines.hosts().map((h) => machines.machine(h)) } };
  if (host === undefined) return undefined;
  if (what === undefined && method === "GET") return { status: 200, body: machines.machine(host) };
  if (what === "services" && service === undefined && method === "GET") {
    // A STOPPED answer means the node's port is already closed.
    await ctx.settle();
    return { status: 200, body: { host: machines.machine(host).host, services: machines.services(host) } };
  }
  if (what === "services" && service !== undefined && action === undefined && method === "GET") {
    await ctx.settle();
    return { status: 200, body: machines.service(host, service) };
  }
  if (what === "services" && service !== undefined && (action === "stop" || action === "start") && method === "POST")
    return { status: 200, body: machines.control(host, service, action) };
  // An instance's config file: GET …/config; POST …/database { connectionString?, masterKey? } (`database` on the machine).
  if (what === "instances" && service !== undefined && action === "config" && method === "GET")
    return { status: 200, body: machines.config(host, service) };
  // `path` and `show-configuration` on an instance: the database its config names (machines.databaseOf).
  if (what === "instances" && service !== undefined && action === "path" && method === "POST") {
    if (ctx.executableFaults.failPath) return HttpError(500, "Injected fault: could not write the folder settings to the database.");
    return { status: 200, body: ctx.cluster.setFoldersIn(machines.databaseOf(host, service), body as Partial<SimFolders>) };
  }
  if (what === "instances" && service !== undefined && action === "database" && method === "GET") {
    const database = machines.databaseOf(host, service);
    return { status: 200, body: { database, state: ctx.cluster.databaseState(database) } };
  }
  if (what === "instances" && service !== undefined && action === "database" && method === "POST") {
    const text = (k: string): string | undefined => (typeof body[k] === "string" ? (body[k] as string) : undefined);
    machines.configureDatabase(host, service, { connectionString: text("connectionString"), masterKey: text("masterKey") });
    return { status: 200, body: { ok: true } };
  }
  if (what === "faults" && method === "POST") {
    const faults: MachineFaults = {};
    for (const k of ["unreachable", "accessDenied", "shareUnreachable"] as const) if (typeof body[k] === "boolean") faults[k] = body[k];
    if (typeof body.pendingMs === "number") faults.pendingMs = body.pendingMs;
    return { status: 200, body: machines.setFaults(host, faults) };
  }
  return answerInstances(ctx, machines, method, parts, body);
}

/**
 * Instances made on a machine by the look-alike's create-instance, configure, database and service --install
 * (a spare machine joining the cluster), and PowerShell's Test-Path as that machine sees a path.
 */
async function answerInstances(
  ctx: ControlContext,
  machines: Machines,
  method: string,
  parts: string[],
  body: Record<string, unknown>,
): Promise<Answer | undefined> {
  const [host, what, instance, action] = parts;
  if (host === undefined || method !== "POST") return undefined;
  if (what === "test-path" && instance === undefined)
    return { status: 200, body: { exists: machines.testPath(host, String(body.path ?? "")) } };
  if (what !== "instances") return undefined;
  if (instance === undefined) return { status: 200, body: machines.createInstance(host, body as unknown as CreatedInstance) };
  if (action === "configure") return { status: 200, body: machines.configureInstance(host, instance, body as Partial<CreatedInstance>) };
  if (action === "install") {
    const result = machines.installAndStart(host, instance);
    // The new node's own URL answers once this returns.
    await ctx.settle();
    return { status: 200, body: result };
  }
  return undefined;
}

const MACHINE_STATUS: Record<MachineError["code"], number> = {
  unknownHost: 404,
  unreachable: 503,
  accessDenied: 403,
  serviceDoesNotExist: 404,
  serviceNotActive: 409,
  serviceAlreadyRunning: 409,
  cannotAcceptControl: 409,
  instanceExists: 409,
  notConfigured: 409,
  nodeNameTaken: 409,
  masterKeyMismatch: 400,
  databaseUnavailable: 503,
};

function machineError(error: MachineError): Answer {
  return {
    status: MACHINE_STATUS[error.code],
    body: { ErrorMessage: error.message, Errors: [], code: error.code, ...(error.win32Error ? { win32Error: error.win32Error } : {}) },
  };
}
