/**
 * verify-octopus: reads completed tasks' logs through /api/tasks/{id}/raw on EACH node directly
 * (bypassing the load balancer): any failure means that node still cannot see the shared file.
 * A sample spread evenly over the task history by default, every task with --verify-all.
 */
import {
  answeredByOtherNode,
  offlineUnlessOtherNode,
  type DatabaseInventory,
  type ServerNodes,
  type ServerTasks,
} from "../octopus/types.js";
import type { Step, StepContext } from "../runner/step.js";
import { isRetryable, OctohaError } from "../shared/errors.js";
import { ExitCode } from "../shared/exit-codes.js";
import { retry, RETRY_BUDGETS } from "../shared/retry.js";
import type { Clock } from "./deps.js";

export interface VerifyOctopusResult {
  checked: number;
  /** The first FAILURE_LIMIT failed reads (a node that sees no shared file fails every one). */
  failures: { taskId: string; node: string; error: string }[];
  /** Every failed read, listed or not (absent in results journaled before it existed: the list is whole). */
  failuresTotal?: number;
}

/** Failed reads a result lists; beyond this only counted. */
export const FAILURE_LIMIT = 1000;

export interface VerifyOctopusDeps {
  ports: { tasks: ServerTasks; inventory: DatabaseInventory; nodes: ServerNodes };
  clock: Clock;
  nodeNames: string[];
  /** How long a freshly started node gets to answer its ping before reads count as failures. */
  startupTimeoutSeconds?: number;
  sampleSize: number;
  verifyAll: boolean;
  /** Which tasks' logs exist nowhere (known before): not expected to read. Resolved once per pass over the tasks. */
  skip?: () => Promise<(taskId: string) => boolean>;
}

/** Evenly spread, deterministic sample: the same tasks on a resume. */
function spreadSample<T>(items: T[], size: number): T[] {
  if (items.length <= size) return items;
  const out: T[] = [];
  for (let i = 0; i < size; i++) out.push(items[Math.floor((i * items.length) / size)]!);
  return out;
}

function interrupted(): OctohaError {
  return new OctohaError("Task-log reads through the nodes interrupted", {
    code: "INTERRUPTED",
    step: "verify-octopus",
    exitCode: ExitCode.Resumable,
    hint: "Run `octoha resume` to read the logs again (nothing was changed), or `octoha rollback`.",
  });
}

/**
 * An evenly spread sample of a stream of unknown length in bounded memory: keeps every stride-th
 * item, and when 2 × size are kept, drops every other one and doubles the stride. A million
 * completed tasks cost 2 × size ids, not a million.
 */
export class SpreadSampler<T> {
  private kept: T[] = [];
  private stride = 1;
  private seen = 0;

  constructor(private readonly size: number) {}

  add(item: T): void {
    if (this.size <= 0 || this.seen++ % this.stride !== 0) return;
    this.kept.push(item);
    if (this.kept.length < 2 * this.size) return;
    this.kept = this.kept.filter((_, i) => i % 2 === 0);
    this.stride *= 2;
  }

  result(): T[] {
    return spreadSample(this.kept, this.size);
  }
}

export function createVerifyOctopusStep(deps: VerifyOctopusDeps): Step<VerifyOctopusResult, "verify-octopus"> {
  /** The completed tasks expected to have a readable log, streamed (keyset pages). */
  const readable = async function* (): AsyncGenerator<string> {
    const skip = (await deps.skip?.()) ?? (() => false);
    for await (const t of deps.ports.inventory.tasks({ completedOnly: true })) if (!skip(t.id)) yield t.id;
  };
  const sample = async (): Promise<string[]> => {
    const sampler = new SpreadSampler<string>(deps.sampleSize);
    for await (const id of readable()) sampler.add(id);
    return sampler.result();
  };
  /** What a run reads: every task with --verify-all (streamed, never all held), else the sample. */
  const toRead = async (): Promise<AsyncIterable<string> | string[]> => (deps.verifyAll ? readable() : await sample());
  /** A node just started needs a while before it serves the API (418 while drained still counts as up). */
  const waitUntilUp = async (ctx: StepContext) => {
    const deadline = deps.clock.now() + (deps.startupTimeoutSeconds ?? 300) * 1000;
    for (const node of deps.nodeNames) {
      while (
        (await deps.ports.nodes.ping(node).catch(offlineUnlessOtherNode)) === "offline" &&
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
      if (answeredByOtherNode(error)) throw error; // not a read that failed: a read through another node
      return (error as Error).message;
    }
  };
  const readAll = async (ctx: StepContext, ids: AsyncIterable<string> | string[]): Promise<VerifyOctopusResult> => {
    await waitUntilUp(ctx);
    const failures: VerifyOctopusResult["failures"] = [];
    let checked = 0;
    let failuresTotal = 0;
    for await (const id of ids) {
      for (const node of deps.nodeNames) {
        checked++;
        if (ctx.signal.aborted) throw interrupted();
        const error = await readOne(ctx, id, node);
        if (error === undefined) continue;
        failuresTotal++;
        if (failures.length < FAILURE_LIMIT) failures.push({ taskId: id, node, error });
      }
    }
    return { checked, failures, failuresTotal };
  };
  const failedCount = (r: VerifyOctopusResult): number => r.failuresTotal ?? r.failures.length;
  /**
   * The nodes with failed reads that do not answer their ping now: their reads failed because the
   * node is down (connection refused), not because it cannot see the shared folder.
   */
  const downAmong = async (ctx: StepContext, r: VerifyOctopusResult): Promise<string[]> => {
    const down: string[] = [];
    for (const node of deps.nodeNames.filter((n) => r.failures.some((f) => f.node === n))) {
      if ((await deps.ports.nodes.ping(node).catch(offlineUnlessOtherNode)) === "offline") down.push(node);
      if (ctx.signal.aborted) throw interrupted();
    }
    return down;
  };
  const failureHint = (r: VerifyOctopusResult, down: string[]): string => {
    const reads = r.failures.slice(0, 20).map((f) => `${f.taskId} via ${f.node}: ${f.error}`);
    const answering = [...new Set(r.failures.map((f) => f.node))].filter((n) => !down.includes(n));
    return [
      ...reads,
      ...down.map(
        (n) =>
          `${n} does not answer its ping: its Octopus service is not running (or its URL is not reachable from here), so every read through it fails. Start it (a retired node: remove it from the plan and delete it in Configuration ➜ Nodes), then run \`octoha resume\`.`,
      ),
      ...(answering.length > 0
        ? [
            `${answering.join(", ")} answer${answering.length === 1 ? "s" : ""} but cannot read ${answering.length === 1 ? "a log: it does" : "logs: they do"} not see the shared folder. Check the service account's access and that the node restarted after the repath, then run \`octoha resume\`.`,
          ]
        : []),
    ].join("\n");
  };
  return {
    id: "verify-octopus",
    title: "Read task logs through every node",
    readOnly: true,
    async inspect() {
      let tasksToRead = 0;
      for await (const _id of await toRead()) tasksToRead++;
      return { changes: [], findings: [], facts: { tasksToRead, nodes: deps.nodeNames, verifyAll: deps.verifyAll } };
    },
    async apply(ctx) {
      const r = await readAll(ctx, await toRead());
      await ctx.checkpoint(r);
      if (failedCount(r) > 0) {
        const down = await downAmong(ctx, r);
        const why = down.length > 0 ? ` (${down.join(", ")} ${down.length === 1 ? "does" : "do"} not answer)` : "";
        throw new OctohaError(`${failedCount(r)} of ${r.checked} task-log read(s) failed through the nodes${why}`, {
          code: "VERIFY_OCTOPUS_FAILED",
          step: "verify-octopus",
          hint: failureHint(r, down),
        });
      }
      return r;
    },
    async verify(_ctx, r) {
      return {
        ok: failedCount(r) === 0,
        summary: `${r.checked - failedCount(r)}/${r.checked} task-log reads succeeded`,
        problems: r.failures.map((f) => `${f.taskId} via ${f.node}: ${f.error}`),
      };
    },
    async rollback() {
      // Read-only step.
    },
  };
}
