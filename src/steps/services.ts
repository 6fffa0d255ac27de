/**
 * stop-services / start-services on every plan node. Stop records which nodes were running so
 * rollback starts only those; start brings up the nodes stop-services stopped (all plan nodes when
 * no record), and its result marks the point of no return for repath: once a node started on the
 * new folders, Octopus may have written there.
 */
import type { NodeServices, ServiceState } from "../octopus/types.js";
import type { Step, StepContext } from "../runner/step.js";
import { OctohaError } from "../shared/errors.js";
import type { RunFacts } from "./facts.js";

export interface ServicesResult {
  before: Record<string, ServiceState>;
  /** Nodes this step acted on. */
  acted: string[];
}

export interface ServicesDeps {
  ports: { services: NodeServices };
  facts: RunFacts;
  nodeNames: string[];
}

async function states(services: NodeServices, names: string[]): Promise<Record<string, ServiceState>> {
  const out: Record<string, ServiceState> = {};
  for (const n of names) out[n] = await services.state(n);
  return out;
}

export function createStopServicesStep(deps: ServicesDeps): Step<ServicesResult, "stop-services"> {
  const { services } = deps.ports;
  return {
    id: "stop-services",
    title: "Stop the Octopus service on every node",
    async inspect() {
      const s = await states(services, deps.nodeNames);
      return { changes: deps.nodeNames.map((n) => (s[n] === "stopped" ? { action: "noop" as const, target: `service on ${n}`, before: "stopped", after: "stopped", summary: `${n} is already stopped` } : { action: "update" as const, target: `service on ${n}`, before: s[n], after: "stopped", summary: `stop the Octopus service on ${n}` })), findings: [] };
    },
    async apply(ctx: StepContext, last) {
      const before = last?.before ?? (await states(services, deps.nodeNames));
      const acted = deps.nodeNames.filter((n) => before[n] !== "stopped");
      if (!last) await ctx.checkpoint({ before, acted });
      for (const n of deps.nodeNames) if ((await services.state(n)) !== "stopped") await services.stop(n);
      const r = { before, acted };
      deps.facts.set("stop-services", r);
      return r;
    },
    async verify() {
      const s = await states(services, deps.nodeNames);
      const running = deps.nodeNames.filter((n) => s[n] !== "stopped");
      return { ok: running.length === 0, summary: running.length === 0 ? "every node stopped" : `still running: ${running.join(", ")}`, problems: running };
    },
    async rollback(_ctx, r) {
      await startAll(services, r.acted);
    },
  };
}

/** Starts each node, collecting failures so one bad node does not hide the others. */
async function startAll(services: NodeServices, names: string[]): Promise<void> {
  const failed: string[] = [];
  for (const n of names) {
    if ((await services.state(n)) === "running") continue;
    try {
      await services.start(n);
    } catch (error) {
      failed.push(`${n}: ${(error as Error).message}`);
    }
  }
  if (failed.length > 0) {
    throw new OctohaError(`${failed.length} node(s) did not start`, {
      code: "SERVICE_START_FAILED",
      hint: `${failed.join("\n")}\nCheck the node's Octopus server log (Home\\Logs\\OctopusServer.txt): a folder the service account cannot reach stops the service right after start. Then run \`octoha resume\`.`,
    });
  }
}

export function createStartServicesStep(deps: ServicesDeps): Step<ServicesResult, "start-services"> {
  const { services } = deps.ports;
  const toStart = () => deps.facts.get("stop-services")?.acted ?? deps.nodeNames;
  return {
    id: "start-services",
    title: "Start the Octopus service on every node",
    async inspect() {
      return { changes: toStart().map((n) => ({ action: "update" as const, target: `service on ${n}`, before: "stopped", after: "running", summary: `start the Octopus service on ${n} (it reads the new folders at start)` })), findings: [] };
    },
    async apply(ctx, last) {
      const names = toStart();
      const r = last ?? { before: await states(services, names), acted: names };
      if (!last) await ctx.checkpoint(r);
      // Recorded before the first start: from here on Octopus may write to the new folders.
      deps.facts.set("start-services", r);
      await startAll(services, r.acted);
      return r;
    },
    async verify(_ctx, r) {
      const s = await states(services, r.acted);
      const down = r.acted.filter((n) => s[n] !== "running");
      return { ok: down.length === 0, summary: down.length === 0 ? "every node running" : `not running: ${down.join(", ")}`, problems: down };
    },
    async rollback(_ctx, r) {
      for (const n of r.acted) if (r.before[n] !== "running" && (await services.state(n)) !== "stopped") await services.stop(n);
    },
  };
}
