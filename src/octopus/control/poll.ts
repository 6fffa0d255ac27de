/**
 * How long to wait before asking a service again while it changes state: 250 ms first, doubling up to
 * the poll interval (default 1 s), never past the deadline. A service that stops in half a second is
 * seen then; one that takes a minute is asked once a second.
 */
import { OctohaError } from "../../shared/errors.js";
import { ExitCode } from "../../shared/exit-codes.js";
import { backoffDelay } from "../../shared/retry.js";
import type { ControlContext } from "./types.js";

const FIRST_POLL_MS = 250;

/** `polled`: how many times the service was asked so far (1 after the first ask). */
export function nextPollDelay(ctx: Pick<ControlContext, "clock" | "pollIntervalMs">, polled: number, deadline: number): number {
  const interval = ctx.pollIntervalMs ?? 1000;
  const delay = backoffDelay({ initialMs: Math.min(FIRST_POLL_MS, interval), maxMs: interval, factor: 2, jitter: 0 }, polled);
  return Math.min(delay, Math.max(0, deadline - ctx.clock.now()));
}

/**
 * Waits before the next ask; a Ctrl-C (the run's signal) ends the wait at once and throws instead of
 * asking again, so the run stops with its usual interrupted outcome rather than after the poll and deadline.
 */
export async function pollPause(
  ctx: Pick<ControlContext, "clock" | "pollIntervalMs" | "signal" | "node">,
  polled: number,
  deadline: number,
  waitingFor: string,
): Promise<void> {
  if (!ctx.signal?.aborted) await ctx.clock.sleep(nextPollDelay(ctx, polled, deadline), ctx.signal);
  if (ctx.signal?.aborted)
    throw new OctohaError(`Node ${ctx.node}: stopped while waiting for ${waitingFor}`, {
      code: "INTERRUPTED",
      node: ctx.node,
      exitCode: ExitCode.Resumable,
      hint: "The service command was sent. Run `octoha resume`: it asks the service's state again before acting.",
    });
}
