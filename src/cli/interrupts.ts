/**
 * The one Ctrl-C handling of the command line: the first SIGINT/SIGTERM aborts the signal handed to
 * the work (it checkpoints, stops and exits on its own); a second one exits at once with 3, since
 * everything octoha writes is resumable (journal, copy manifest) or nothing was written (dry-run).
 */
import { ExitCode } from "../shared/exit-codes.js";

export interface InterruptMessages {
  /** Printed on the first signal (nothing when absent). */
  first?: (name: NodeJS.Signals) => string;
  /** Printed on the second signal, just before exiting. */
  second: (name: NodeJS.Signals) => string;
}

/** What a workflow run (run, repair, resume, rollback, demo) says. */
export const RUN_INTERRUPTS: InterruptMessages = {
  first: (name) => `octoha: ${name} received: letting the current step checkpoint, then stopping (press Ctrl-C again to exit now).`,
  second: (name) => `octoha: second ${name}, exiting now; the journal is intact, resume will redo the step in flight.`,
};

/** Runs `work` with a signal aborted on the first SIGINT/SIGTERM; a second one exits 3 at once. */
export async function withInterrupts<T>(
  work: (signal: AbortSignal) => Promise<T>,
  messages: InterruptMessages = RUN_INTERRUPTS,
): Promise<T> {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      process.stderr.write(`${messages.second(name)}\n`);
      process.exit(ExitCode.Resumable);
    }
    if (messages.first) process.stderr.write(`${messages.first(name)}\n`);
    controller.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    return await work(controller.signal);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
