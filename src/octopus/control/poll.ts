/**
 * How long to wait before asking a service again while it changes state: 250 ms first, doubling up to
 * the poll interval (default 1 s), never past the deadline. A service that stops in half a second is
 * seen then; one that takes a minute is asked once a second.
 */
import { backoffDelay } from "../../shared/retry.js";
import type { ControlContext } from "./types.js";

const FIRST_POLL_MS = 250;

/** `polled`: how many times the service was asked so far (1 after the first ask). */
export function nextPollDelay(ctx: Pick<ControlContext, "clock" | "pollIntervalMs">, polled: number, deadline: number): number {
  const interval = ctx.pollIntervalMs ?? 1000;
  const delay = backoffDelay({ initialMs: Math.min(FIRST_POLL_MS, interval), maxMs: interval, factor: 2, jitter: 0 }, polled);
  return Math.min(delay, Math.max(0, deadline - ctx.clock.now()));
}
