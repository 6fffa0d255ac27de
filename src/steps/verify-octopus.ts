/**
 * verify-octopus: reads completed tasks' logs through /api/tasks/{id}/raw on EACH node directly
 * (bypassing the load balancer): any failure means that node still cannot see the shared file.
 * A sample spread evenly over the task history by default, every task with --verify-all.
 */
import type { DatabaseInventory, ServerNodes, ServerTasks } from "../octopus/types.js";
import type { Step, StepContext } from "../runner/step.js";
import { isRetryable, OctohaError } from "../shared/errors.js";
import { ExitCode } from "../shared/exit-codes.js";
import { retry, RETRY_BUDGETS } from "../shared/retry.js";
import type { Clock } from "./deps.js";

export interface VerifyOctopusResult {
  checked: number;
  failures: { taskId: string; node: string; error: string }[];
}

export interface VerifyOctopusDeps {
  ports: { tasks: ServerTasks; inventory: DatabaseInventory; nodes: ServerNodes };
  clock: Clock;
  nodeNames: string[];
  /** How long a freshly started node gets to answer its ping before reads count as failures. */
  startupTimeoutSeconds?: number;
  sampleSize: number;
  verifyAll: boolean;
  /** Tasks whose logs exist nowhere (known before): not expected to read. */
  skip?: () => ReadonlySet<string>;
}

/** Evenly spread, deterministic sample: the same tasks on a resume. */
function spreadSample<T>(items: T[], size: number): T[] {
  if (items.length <= size) return items;
  const out: T[] = [];
  for (let i = 0; i < size; i++) out.push(items[Math.floor((i * items.length) / size)]!);
  return out;
}

function interrupted(): OctohaError {
  return new OctohaError("Task-log reads through the nodes interrupted; maintenance mode stays on", {
    code: "INTERRUPTED",
    step: "verify-octopus",
    exitCode: ExitCode.Resumable,
    hint: "Run `octoha resume` to read the logs again (nothing was changed), or `octoha rollback`.",
  });
}

export function createVerifyOctopusStep(deps: VerifyOctopusDeps): Step<VerifyOctopusResult, "verify-octopus"> {
  const sample = async () => {
    const skip = deps.skip?.() ?? new Set<string>();
    const ids: string[] = [];
    for await (const t of deps.ports.inventory.tasks({ completedOnly: true })) if (!skip.has(t.id)) ids.push(t.id);
    return deps.verifyAll ? ids : spreadSample(ids, deps.sampleSize);
  };
  /** A node just started needs a while before it serves the API (418 while drained still counts as up). */
  const waitUntilUp = async (ctx: StepContext) => {
    const deadline = deps.clock.now() + (deps.startupTimeoutSeconds ?? 300) * 1000;
    for (const node of deps.nodeNames) {
      while (
        (await deps.ports.nodes.ping(node).catch(() => "offline" as const)) === "offline" &&
        deps.clock.now() < deadline &&
        !ctx.signal.aborted
      ) {
        ctx.emit({ level: "progress", message: `Waiting for ${node} to answer after its start` });
        await deps.clock.sleep(5000, ctx.signal);
      }
    }
  };
  /** A read's failure is a finding, not an error: every node and task is tried. An interrupt stops the step. */
  const readOne = async (ctx: StepContext, id: string, node: string): Promise<string | undefined> => {
    try {
      await retry(() => deps.ports.tasks.readRawLog(id, node), {
        ...RETRY_BUDGETS.taskLogRead,
        isRetryable,
        signal: ctx.signal,
        clock: deps.clock,
      });
      return undefined;
    } catch (error) {
      if (ctx.signal.aborted) throw interrupted();
      return (error as Error).message;
    }
  };
  const readAll = async (ctx: StepContext, ids: string[]): Promise<VerifyOctopusResult> => {
    await waitUntilUp(ctx);
    const failures: VerifyOctopusResult["failures"] = [];
    for (const node of deps.nodeNames) {
      for (const id of ids) {
        if (ctx.signal.aborted) throw interrupted();
        const error = await readOne(ctx, id, node);
        if (error !== undefined) failures.push({ taskId: id, node, error });
      }
    }
    return { checked: ids.length * deps.nodeNames.length, failures };
  };
  return {
    id: "verify-octopus",
    title: "Read task logs through every node",
    readOnly: true,
    async inspect() {
      const ids = await sample();
      return { changes: [], findings: [], facts: { tasksToRead: ids.length, nodes: deps.nodeNames, verifyAll: deps.verifyAll } };
    },
    async apply(ctx) {
      const r = await readAll(ctx, await sample());
      await ctx.checkpoint(r);
      if (r.failures.length > 0) {
        throw new OctohaError(`${r.failures.length} of ${r.checked} task-log read(s) failed through the nodes; maintenance mode stays on`, {
          code: "VERIFY_OCTOPUS_FAILED",
          step: "verify-octopus",
          hint: `${r.failures
            .slice(0, 20)
            .map((f) => `${f.taskId} via ${f.node}: ${f.error}`)
            .join(
              "\n",
            )}\nA node that cannot read a log does not see the shared folder: check its service account's access and that it restarted after the repath, then run \`octoha resume\`.`,
        });
      }
      return r;
    },
    async verify(_ctx, r) {
      return {
        ok: r.failures.length === 0,
        summary: `${r.checked - r.failures.length}/${r.checked} task-log reads succeeded`,
        problems: r.failures.map((f) => `${f.taskId} via ${f.node}: ${f.error}`),
      };
    },
    async rollback() {
      // Read-only step.
    },
  };
}
