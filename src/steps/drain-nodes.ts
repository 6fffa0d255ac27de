/**
 * drain-nodes: records every node's drain flag and task cap, drains them all, then waits (bounded)
 * until no task runs anywhere, polling the running-task counts itself (`node --wait` gave up after
 * 5 minutes before 2025.3.10568). Then it waits for task-log handles to close. Both deadlines are
 * timestamps in the checkpoint, so a resumed run continues the wait instead of restarting it.
 */
import type { MaintenanceMode, ServerNode, ServerNodes, ServerTask, ServerTasks } from "../octopus/types.js";
import type { Finding } from "../model/preview.js";
import type { Step, StepContext } from "../runner/step.js";
import { ExitCode } from "../shared/exit-codes.js";
import { OctohaError } from "../shared/errors.js";
import type { Clock } from "./deps.js";
import type { RunFacts } from "./facts.js";
import type { DrainResult, NodeDrainState } from "./results.js";

export interface DrainDeps {
  ports: { nodes: ServerNodes; tasks: ServerTasks; maintenance: MaintenanceMode };
  facts: RunFacts;
  clock: Clock;
  drainTimeoutMinutes: number;
  logHandleWaitSeconds: number;
  /** plan.options.cancelTasksOnDrainTimeout or --cancel-tasks. */
  cancelOnTimeout: boolean;
  /** How often to poll the running-task counts. */
  pollIntervalMs?: number;
  /** How long cancelled tasks get to stop before giving up. */
  cancelWaitMs?: number;
}

/** Tasks holding a node busy: anything active except Queued (a queued task waits; it writes no log yet). */
const isRunning = (t: ServerTask) => t.state !== "Queued";

/** The node's name for a task's ServerNode, which holds the node Id on 2018+ ("OctopusServerNodes-OCTO1") and the name on 3.x. */
function nodeNameOf(serverNode: string | null | undefined, nodes: readonly { id: string; name: string }[]): string | undefined {
  if (!serverNode) return undefined;
  const key = serverNode.toLowerCase();
  return nodes.find((n) => n.id.toLowerCase() === key || n.name.toLowerCase() === key)?.name ?? serverNode;
}

export function describeTasks(tasks: ServerTask[], nodes: readonly { id: string; name: string }[] = []): string[] {
  return tasks.map((t) => `${t.id} (${t.name}, ${t.state}) on ${nodeNameOf(t.serverNode, nodes) ?? "no node yet"}`);
}

/**
 * The cluster as this run finds it, before it changes anything, when every node is draining: what
 * another run midway leaves (it drains every node first and undrains last; another state directory
 * or machine, since the state lock is per directory). A second run would record that as "before"
 * and restore it after its own "done", leaving no node to run tasks. One node draining (an
 * operator's: a node being retired), or maintenance mode alone, is put back as found, by design.
 */
function outOfServiceAlready(list: readonly ServerNode[], maintenanceOn: boolean): Finding | undefined {
  const draining = list.filter((n) => n.isDraining).map((n) => n.name);
  if (list.length === 0 || draining.length < list.length) return undefined;
  return {
    severity: "error",
    code: "CLUSTER_ALREADY_DRAINED",
    summary: `Every node is draining (${draining.join(", ")})${maintenanceOn ? " and Octopus is in maintenance mode" : ""} before this run has changed anything`,
    detail:
      "octoha puts back at the end what it finds before it drains, so it would leave every node drained after its own run: no node would run a task. Another octoha run on this cluster (from another state directory or machine) may be in progress, or stopped midway.",
    fix: "If another octoha run is in progress or stopped, let it finish (`octoha resume`) or roll it back (`octoha rollback`) from its own state directory first. If an administrator drained every node on purpose, undrain them (Configuration ➜ Nodes), then run `octoha resume` for this run: it drains them itself and undrains them at the end.",
  };
}

/** Some nodes draining before this run: put back draining at the end, which is right for an operator's drain, not for another run's. */
function alreadyDrainingWarning(names: readonly string[]): string {
  return `${names.join(", ")} ${names.length === 1 ? "is" : "are"} already draining before this run changed anything: put back draining at the end. If another octoha run drained ${names.length === 1 ? "it" : "them"} (from another state directory or machine), let that run finish (\`octoha resume\`) or roll it back (\`octoha rollback\`) first, then roll this one back and run it again.`;
}

export function createDrainNodesStep(deps: DrainDeps): Step<DrainResult, "drain-nodes"> {
  const { nodes, tasks } = deps.ports;
  const poll = deps.pollIntervalMs ?? 5000;

  /** Waits until no task runs or the deadline passes; returns the tasks still running. */
  async function waitForIdle(ctx: StepContext, deadline: number): Promise<ServerTask[]> {
    for (;;) {
      const [list, active] = await Promise.all([nodes.list(), tasks.listActive()]);
      const running = active.filter(isRunning);
      const busyNodes = list.filter((n) => (n.runningTaskCount ?? 0) > 0);
      if (running.length === 0 && busyNodes.length === 0) return [];
      if (deps.clock.now() >= deadline || ctx.signal.aborted) return running;
      ctx.emit({
        level: "progress",
        message: `Waiting for ${running.length} task(s) to finish: ${describeTasks(running, list).join("; ")}`,
        data: {
          tasks: running.map((t) => ({ id: t.id, state: t.state, node: nodeNameOf(t.serverNode, list) ?? null })),
          secondsLeft: Math.round((deadline - deps.clock.now()) / 1000),
        },
      });
      await deps.clock.sleep(Math.min(poll, Math.max(0, deadline - deps.clock.now())), ctx.signal);
    }
  }

  function interrupted(): OctohaError {
    return new OctohaError("Drain interrupted; the nodes stay drained", {
      code: "INTERRUPTED",
      step: "drain-nodes",
      exitCode: ExitCode.Resumable,
      hint: "Run `octoha resume` to continue waiting, or `octoha rollback` to undrain.",
    });
  }

  return {
    id: "drain-nodes",
    title: "Drain every node and wait for running tasks to finish",
    async inspect() {
      const [list, active, maintenanceOn] = await Promise.all([nodes.list(), tasks.listActive(), deps.ports.maintenance.isOn()]);
      const running = active.filter(isRunning);
      const outOfService = outOfServiceAlready(list, maintenanceOn);
      return {
        changes: list.map((n) =>
          n.isDraining
            ? {
                action: "noop" as const,
                target: `node ${n.name} drain flag`,
                before: true,
                after: true,
                summary: `${n.name} is already draining`,
              }
            : {
                action: "update" as const,
                target: `node ${n.name} drain flag`,
                before: false,
                after: true,
                summary: `drain ${n.name} (task cap ${n.maxConcurrentTasks} kept, restored by undrain)`,
              },
        ),
        findings: [
          ...(outOfService ? [outOfService] : []),
          ...(!outOfService && list.some((n) => n.isDraining)
            ? [
                {
                  severity: "warning" as const,
                  code: "NODE_ALREADY_DRAINING",
                  summary: alreadyDrainingWarning(list.filter((n) => n.isDraining).map((n) => n.name)),
                },
              ]
            : []),
          ...(running.length
            ? [
                {
                  severity: "info" as const,
                  code: "TASKS_RUNNING",
                  summary: `${running.length} task(s) running now; the drain waits up to ${deps.drainTimeoutMinutes} min for them`,
                  detail: describeTasks(running, list).join("\n"),
                  fix: deps.cancelOnTimeout
                    ? "They will be cancelled if still running at the deadline."
                    : "Schedule the window when nothing runs, or pass --cancel-tasks to cancel them at the deadline.",
                },
              ]
            : []),
        ],
        facts: {
          runningTasks: running.map((t) => t.id),
          drainTimeoutMinutes: deps.drainTimeoutMinutes,
          logHandleWaitSeconds: deps.logHandleWaitSeconds,
        },
      };
    },
    async apply(ctx, last) {
      // Before-state first, once: a resumed run keeps the flags recorded before it drained anything.
      let r: DrainResult | undefined = last;
      if (!r) {
        const [list, maintenanceOn] = await Promise.all([nodes.list(), deps.ports.maintenance.isOn()]);
        const outOfService = outOfServiceAlready(list, maintenanceOn);
        if (outOfService)
          throw new OctohaError(`${outOfService.summary}: drain refused, nothing changed`, {
            code: outOfService.code,
            step: "drain-nodes",
            exitCode: ExitCode.Failed,
            hint: `${outOfService.detail}\n${outOfService.fix}`,
          });
        r = {
          phase: "recorded",
          before: list.map((n) => ({ id: n.id, name: n.name, isDraining: n.isDraining, maxConcurrentTasks: n.maxConcurrentTasks })),
          maintenanceBefore: maintenanceOn,
        };
        await ctx.checkpoint(r);
        const already = list.filter((n) => n.isDraining).map((n) => n.name);
        if (already.length > 0) ctx.emit({ level: "warn", message: alreadyDrainingWarning(already) });
      }
      deps.facts.set("drain-nodes", r);

      if (r.phase === "recorded" || r.phase === "draining") {
        for (const n of await nodes.list()) if (!n.isDraining) await nodes.update(n.id, { isDraining: true });
        r = { ...r, phase: "draining", drainDeadline: r.drainDeadline ?? deps.clock.now() + deps.drainTimeoutMinutes * 60_000 };
        await ctx.checkpoint(r);
        deps.facts.set("drain-nodes", r);
        let still = await waitForIdle(ctx, r.drainDeadline!);
        if (ctx.signal.aborted) throw interrupted();
        if (still.length > 0 && deps.cancelOnTimeout) {
          for (const t of still) await tasks.cancel(t.id);
          r = { ...r, cancelled: still.map((t) => t.id) };
          await ctx.checkpoint(r);
          ctx.emit({
            level: "warn",
            message: `Cancelled ${still.length} task(s) still running at the drain deadline: ${still.map((t) => t.id).join(", ")}`,
          });
          still = await waitForIdle(ctx, deps.clock.now() + (deps.cancelWaitMs ?? 5 * 60_000));
        }
        if (still.length > 0) {
          // Names, not node Ids, in what the operator reads; a failing read must not hide the timeout.
          const known = await nodes.list().catch(() => []);
          throw new OctohaError(
            `Drain timed out after ${deps.drainTimeoutMinutes} min with ${still.length} task(s) still running; nothing else was changed`,
            {
              code: "DRAIN_TIMEOUT",
              step: "drain-nodes",
              exitCode: ExitCode.Resumable,
              hint: `Still running:\n${describeTasks(still, known).join("\n")}\nWait for them and run \`octoha resume\`, cancel them in the Octopus UI, or resume with --cancel-tasks to cancel them through the API. The nodes stay drained; \`octoha rollback\` undrains them.`,
            },
          );
        }
        r = { ...r, phase: "handles", handleDeadline: deps.clock.now() + deps.logHandleWaitSeconds * 1000 };
        await ctx.checkpoint(r);
      }
      if (r.phase === "handles") {
        // Octopus keeps a task log open about a minute after its last write.
        while (deps.clock.now() < r.handleDeadline! && !ctx.signal.aborted) {
          await deps.clock.sleep(r.handleDeadline! - deps.clock.now(), ctx.signal);
        }
        if (ctx.signal.aborted) throw interrupted();
        r = { ...r, phase: "done" };
        await ctx.checkpoint(r);
      }
      deps.facts.set("drain-nodes", r);
      return r;
    },
    async verify() {
      const [list, active] = await Promise.all([nodes.list(), tasks.listActive()]);
      const problems = [
        ...list.filter((n) => !n.isDraining).map((n) => `${n.name} is not draining`),
        ...list.filter((n) => (n.runningTaskCount ?? 0) > 0).map((n) => `${n.name} runs ${n.runningTaskCount} task(s)`),
        ...describeTasks(active.filter(isRunning), list).map((t) => `still running: ${t}`),
      ];
      return { ok: problems.length === 0, summary: problems.length === 0 ? "every node drained and idle" : "drain incomplete", problems };
    },
    async rollback(_ctx, r) {
      await restoreNodes(nodes, r.before);
    },
  };
}

/** Puts every node's drain flag and task cap back exactly as recorded; writes only what differs. */
export async function restoreNodes(nodes: ServerNodes, before: NodeDrainState[]): Promise<string[]> {
  const current = await nodes.list();
  const changed: string[] = [];
  for (const b of before) {
    const now = current.find((n) => n.id === b.id);
    if (!now) continue;
    const change: { isDraining?: boolean; maxConcurrentTasks?: number } = {};
    if (now.isDraining !== b.isDraining) change.isDraining = b.isDraining;
    if (now.maxConcurrentTasks !== b.maxConcurrentTasks) change.maxConcurrentTasks = b.maxConcurrentTasks;
    if (Object.keys(change).length > 0) {
      await nodes.update(b.id, change);
      changed.push(b.name);
    }
  }
  return changed;
}
