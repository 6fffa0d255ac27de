/**
 * stop-services / start-services on every plan node. Stop records which nodes were running so
 * rollback starts only those; start brings up the nodes stop-services stopped (all plan nodes when
 * no record), and its result marks the point of no return for repath: once a node started on the
 * new folders, Octopus may have written there. Its verify also names a plan node that was already
 * stopped when stop-services came to it (down before the run, or gone down since preflight heard it
 * answer: not stopped, so not started, by the run): task logs are read through every node next.
 *
 * A started Octopus Server answers 503 (or nothing) for a while before it serves requests, so
 * "started" is proven by polling each node's ping until a deadline, never by one attempt. The
 * deadline is a timestamp in the checkpoint: a resumed run continues the same wait. The first
 * polls come after 250 ms and double up to the poll interval: a node up in half a second is seen
 * then, one that takes minutes is asked every 2 s.
 */
import type { NodeServices, ServiceState } from "../octopus/types.js";
import type { Step, StepContext } from "../runner/step.js";
import { ExitCode } from "../shared/exit-codes.js";
import { OctohaError } from "../shared/errors.js";
import { backoffDelay } from "../shared/retry.js";
import { realClock, type Clock } from "./deps.js";
import type { RunFacts } from "./facts.js";
import type { ServicesResult } from "./results.js";

export interface ServicesDeps {
  ports: { services: NodeServices };
  facts: RunFacts;
  nodeNames: string[];
  clock?: Clock;
  /** How long started nodes get to answer their ping (plan serviceStartTimeoutMinutes; default 5 min). */
  startTimeoutMs?: number;
  /** How often to ask a starting node once it has been starting a while (default 2 s; the first asks come sooner). */
  pollIntervalMs?: number;
}

const DEFAULT_START_TIMEOUT_MS = 5 * 60_000;
/** The first wait for a starting node; the waits double from here up to the poll interval. */
const FIRST_POLL_MS = 250;
/** verify re-proves the nodes answer: a reset in that moment is waited out this long at least. */
const VERIFY_GRACE_MS = 30_000;

type States = Record<string, ServiceState>;

async function states(services: NodeServices, names: string[]): Promise<Record<string, ServiceState>> {
  const out: Record<string, ServiceState> = {};
  for (const n of names) out[n] = await services.state(n);
  return out;
}

/**
 * Every node's state, read before the first stop so a node octoha cannot reach (or whose recipe reaches
 * the wrong service) stops the run while every node still runs. A node whose service manager says
 * stopped while its URL still answers is refused: stopping "it" would not stop what serves that URL.
 */
async function statesBeforeStopping(services: NodeServices, names: string[]): Promise<States> {
  if (!services.check) return states(services, names);
  const out: States = {};
  for (const n of names) {
    const c = await services.check(n);
    if (c.error) throw new OctohaError(c.error.message, { code: c.error.code, node: n, exitCode: ExitCode.Resumable, hint: c.error.hint });
    if (c.status?.state === "stopped" && c.ping === "running")
      throw new OctohaError(`Node ${n}: its service manager says stopped (${c.status.raw}) but the node still answers its ping`, {
        code: "NODE_STOPPED_BUT_ANSWERS",
        node: n,
        exitCode: ExitCode.Resumable,
        hint: `The recipe (${c.recipe}) reaches another machine or service than the one serving this node's URL: check nodes[].control (host, service, instance or unit) and nodes[].url, then run \`octoha resume\`. Nothing was stopped.`,
      });
    out[n] = c.state ?? "unknown";
  }
  return out;
}

/** Polls until every node answers (running) or the deadline passes; returns the last states seen. */
async function waitUntilRunning(deps: ServicesDeps, ctx: StepContext, names: string[], deadline: number): Promise<States> {
  const clock = deps.clock ?? realClock;
  const poll = deps.pollIntervalMs ?? 2000;
  const backoff = { initialMs: Math.min(FIRST_POLL_MS, poll), maxMs: poll, factor: 2, jitter: 0 };
  for (let asked = 1; ; asked++) {
    const s = await states(deps.ports.services, names);
    const waiting = names.filter((n) => s[n] !== "running");
    if (waiting.length === 0 || clock.now() >= deadline || ctx.signal.aborted) return s;
    ctx.emit({
      level: "progress",
      message: `Waiting for ${waiting.map((n) => `${n} (${describeState(s[n])})`).join(", ")} to answer`,
      data: { waiting, secondsLeft: Math.round((deadline - clock.now()) / 1000) },
    });
    await clock.sleep(Math.min(backoffDelay(backoff, asked), Math.max(0, deadline - clock.now())), ctx.signal);
  }
}

const describeUntouched = (s: ServiceState | undefined) => (s === "stopped" ? "stopped" : "not answering its ping");
const describeState = (s: ServiceState | undefined) => (s === "stopped" ? "not listening yet" : "not answering its ping yet");

function interrupted(stepId: string): OctohaError {
  return new OctohaError("Stopped while waiting for the nodes to answer", {
    code: "INTERRUPTED",
    step: stepId,
    exitCode: ExitCode.Resumable,
    hint: "The start commands were sent. Run `octoha resume` to go on waiting.",
  });
}

const SILENT = "nothing listens on its URL (the service stopped again, or has not opened its port)";
const NOT_ANSWERING = "its ping did not answer 200/418 (still starting, or failing)";

/** The nodes did not answer in time: which ones, what they did, and what to look at. */
function notReady(deps: ServicesDeps, stepId: string, s: States, down: string[]): OctohaError {
  const minutes = Math.round((deps.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS) / 6000) / 10;
  return new OctohaError(`${down.length} node(s) did not answer within ${minutes} min of their start: ${down.join(", ")}`, {
    code: "SERVICE_NOT_READY",
    step: stepId,
    hint: [
      ...down.map((n) => `${n}: ${s[n] === "stopped" ? SILENT : NOT_ANSWERING}`),
      "Look at the node's Octopus server log (Home\\Logs\\OctopusServer.txt): a folder the service account cannot reach",
      "stops the service right after start.",
      "Raise options.serviceStartTimeoutMinutes if the node only starts slowly, then run `octoha resume`.",
    ].join("\n"),
  });
}

export function createStopServicesStep(deps: ServicesDeps): Step<ServicesResult, "stop-services"> {
  const { services } = deps.ports;
  return {
    id: "stop-services",
    title: "Stop the Octopus service on every node",
    async inspect() {
      const s = await states(services, deps.nodeNames);
      return {
        changes: deps.nodeNames.map((n) =>
          s[n] === "stopped"
            ? {
                action: "noop" as const,
                target: `service on ${n}`,
                before: "stopped",
                after: "stopped",
                summary: `${n} is already stopped`,
              }
            : {
                action: "update" as const,
                target: `service on ${n}`,
                before: s[n],
                after: "stopped",
                summary: `stop the Octopus service on ${n}`,
              },
        ),
        findings: [],
      };
    },
    async apply(ctx: StepContext, last) {
      const before = last?.before ?? (await statesBeforeStopping(services, deps.nodeNames));
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
      return {
        ok: running.length === 0,
        summary: running.length === 0 ? "every node stopped" : `still running: ${running.join(", ")}`,
        problems: running,
      };
    },
    async rollback(ctx, r) {
      let failedStart: unknown;
      await startAll(services, r.acted).catch((error: unknown) => (failedStart = error));
      // Rolled back means serving again: the undos after this one talk to the API. The nodes that did
      // start are waited for even when another's start failed, so that what the failed rollback says
      // it left (read just after) is what serves, not a node still starting.
      const started = failedStart ? await states(services, r.acted) : undefined;
      const waitFor = started ? r.acted.filter((n) => started[n] !== "stopped") : r.acted;
      const deadline = (deps.clock ?? realClock).now() + (deps.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS);
      const s = await waitUntilRunning(deps, ctx, waitFor, deadline);
      if (ctx.signal.aborted) throw interrupted("stop-services");
      if (failedStart) throw failedStart;
      const down = r.acted.filter((n) => s[n] !== "running");
      if (down.length > 0) throw notReady(deps, "stop-services", s, down);
    },
  };
}

/**
 * Starts each node, collecting failures so one bad node does not hide the others. One recipe failure
 * is rethrown as it is (its node, cause and fix); several are listed, resumable when any of them is.
 */
async function startAll(services: NodeServices, names: string[]): Promise<void> {
  const failed: { node: string; error: unknown }[] = [];
  for (const n of names) {
    if ((await services.state(n)) === "running") continue;
    try {
      await services.start(n);
    } catch (error) {
      failed.push({ node: n, error });
    }
  }
  const resumable = failed.some((f) => f.error instanceof OctohaError && f.error.exitCode === ExitCode.Resumable);
  // A recipe's own error already names the node, the cause, the fix and the command to try by hand.
  if (failed.length === 1 && resumable) throw failed[0]!.error;
  if (failed.length > 0) {
    throw new OctohaError(`${failed.length} node(s) did not start`, {
      code: "SERVICE_START_FAILED",
      ...(resumable ? { exitCode: ExitCode.Resumable } : {}),
      hint: `${failed.map((f) => `${f.node}: ${f.error instanceof OctohaError ? f.error.describe() : (f.error as Error).message}`).join("\n")}\nCheck the node's Octopus server log (Home\\Logs\\OctopusServer.txt): a folder the service account cannot reach stops the service right after start. Then run \`octoha resume\`.`,
    });
  }
}

export function createStartServicesStep(deps: ServicesDeps): Step<ServicesResult, "start-services"> {
  const { services } = deps.ports;
  const clock = deps.clock ?? realClock;
  const toStart = () => deps.facts.get("stop-services")?.acted ?? deps.nodeNames;
  return {
    id: "start-services",
    title: "Start the Octopus service on every node",
    async inspect() {
      // A dry-run has no stop-services record: a node stopped now is one stop-services would not stop.
      const recorded = deps.facts.get("stop-services")?.acted;
      const now = recorded ? undefined : await states(services, deps.nodeNames);
      const started = recorded ?? deps.nodeNames.filter((n) => now?.[n] !== "stopped");
      return {
        changes: deps.nodeNames.map((n) =>
          started.includes(n)
            ? {
                action: "update" as const,
                target: `service on ${n}`,
                before: "stopped",
                after: "running",
                summary: `start the Octopus service on ${n} (it reads the new folders at start)`,
              }
            : {
                action: "noop" as const,
                target: `service on ${n}`,
                before: "stopped",
                after: "stopped",
                summary: recorded
                  ? `${n} was already stopped when the run stopped the nodes: the run does not start it`
                  : `${n} is stopped now: a run neither stops nor starts it`,
              },
        ),
        findings: [],
      };
    },
    async apply(ctx, last) {
      const names = toStart();
      let r: ServicesResult = last ?? { before: await states(services, names), acted: names, answered: false };
      if (!last) {
        // A node stop-services stopped that runs again was started by someone during the window,
        // perhaps before repath: Octopus reads its folders at start, so it may be writing task logs
        // to its own disk. Skipping it as "already running" left it there; it is restarted (one still
        // starting, "unknown", too).
        const startedByHand = deps.facts.get("stop-services") ? names.filter((n) => r.before[n] !== "stopped") : [];
        if (startedByHand.length > 0) r = { ...r, restart: startedByHand };
        await ctx.checkpoint(r);
      }
      // Recorded before the first start: from here on Octopus may write to the new folders.
      deps.facts.set("start-services", r);
      if (r.restart && !r.restartStopped) {
        for (const n of r.restart) {
          ctx.emit({
            level: "warn",
            message: `${n} was running again when the run came to start it (started during the window, not by this run): restarting it so that it reads the shared folders. Task logs it wrote while it ran may be on its own disk only: run \`octoha repair\` after this run to copy them.`,
          });
          if ((await services.state(n)) !== "stopped") await services.stop(n);
        }
        r = { ...r, restartStopped: true };
        await ctx.checkpoint(r);
        deps.facts.set("start-services", r);
      }
      await startAll(services, r.acted);
      if (r.readyDeadline === undefined) {
        r = { ...r, readyDeadline: clock.now() + (deps.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS) };
        await ctx.checkpoint(r);
        deps.facts.set("start-services", r);
      }
      const s = await waitUntilRunning(deps, ctx, r.acted, r.readyDeadline!);
      if (ctx.signal.aborted) throw interrupted("start-services");
      const down = r.acted.filter((n) => s[n] !== "running");
      if (down.length > 0) throw notReady(deps, "start-services", s, down);
      r = { ...r, answered: true };
      deps.facts.set("start-services", r);
      return r;
    },
    async verify(ctx, r) {
      // A plan node that was not running when the run stopped the others is neither stopped nor started
      // by it, yet verify-octopus reads task logs through it: "every node running" would be false. One
      // started by hand since (a resume) may still be starting: it is waited for like the others.
      const untouched = await states(
        services,
        deps.nodeNames.filter((n) => !r.acted.includes(n)),
      );
      const starting = Object.keys(untouched).filter((n) => untouched[n] !== "stopped" && untouched[n] !== "running");
      const deadline = Math.max(r.readyDeadline ?? 0, clock.now() + VERIFY_GRACE_MS);
      const s = { ...untouched, ...(await waitUntilRunning(deps, ctx, [...r.acted, ...starting], deadline)) };
      if (ctx.signal.aborted) throw interrupted("start-services");
      const down = r.acted.filter((n) => s[n] !== "running");
      const notStarted = Object.keys(untouched).filter((n) => s[n] !== "running");
      // Preflight heard it answer (migrate and repair ping every node with a URL): it went down during the run.
      const pinged = new Set(
        (deps.facts.get("preflight")?.findings ?? []).filter((f) => f.code === "NODE_PING" && f.node).map((f) => f.node),
      );
      const wentDown = notStarted.filter((n) => pinged.has(n));
      const alreadyDown = notStarted.filter((n) => !pinged.has(n));
      const unreadable = "so the run did not start it, and task logs cannot be read through it";
      const problems = [
        ...down,
        ...wentDown.map(
          (n) =>
            `${n} is ${describeUntouched(s[n])}: it answered at preflight but was already stopped when the run came to stop the nodes (it went down during the run), ${unreadable}. Find out why it stopped (its Octopus server log, Home\\Logs\\OctopusServer.txt), start its Octopus service, then run \`octoha resume\`.`,
        ),
        ...alreadyDown.map(
          (n) =>
            `${n} is ${describeUntouched(s[n])}: it was already stopped when the run came to stop the nodes, ${unreadable}. Start its Octopus service (or, if it is retired, remove it from the plan and delete it in Configuration ➜ Nodes), then run \`octoha resume\`.`,
        ),
      ];
      const summary = [
        ...(down.length > 0 ? [`not running: ${down.join(", ")}`] : []),
        ...(wentDown.length > 0 ? [`went down during the run (after preflight), not started by it: ${wentDown.join(", ")}`] : []),
        ...(alreadyDown.length > 0 ? [`already stopped when the run stopped the nodes, not started by it: ${alreadyDown.join(", ")}`] : []),
      ];
      // Said where it lasts (the journal, report and status), not only on the restarting process's stderr.
      const restarted = r.restart?.length
        ? [
            `restarted ${r.restart.join(", ")}: running again when the run came to start it (started during the window, not by this run); task logs it wrote then may be on its own disk only: run \`octoha repair\` after this run`,
          ]
        : [];
      return {
        ok: problems.length === 0,
        summary: [problems.length === 0 ? "every node running" : summary.join("; "), ...restarted].join("; "),
        problems,
      };
    },
    async rollback(_ctx, r) {
      for (const n of r.acted) if (r.before[n] !== "running" && (await services.state(n)) !== "stopped") await services.stop(n);
    },
  };
}
