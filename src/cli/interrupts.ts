/**
 * The one Ctrl-C handling of the command line: the first SIGINT/SIGTERM/SIGHUP aborts the signal
 * handed to the work (it checkpoints, stops and exits on its own); a second SIGINT/SIGTERM exits at
 * once with 3, since everything octoha writes is resumable (journal, copy manifest) or nothing was
 * written (dry-run).
 */
import { closeSync } from "node:fs";
import { isatty } from "node:tty";
import { ExitCode } from "../shared/exit-codes.js";

export interface InterruptMessages {
  /** Printed on the first signal (nothing when absent). */
  first?: (name: NodeJS.Signals) => string;
  /** Printed on the second signal, just before exiting. */
  second: (name: NodeJS.Signals) => string;
}

/** What a workflow run (run, repair, resume, rollback, demo) says. */
export const RUN_INTERRUPTS: InterruptMessages = {
  first: (name) =>
    name === "SIGHUP"
      ? "octoha: SIGHUP received (the terminal or SSH session is gone): letting the current step checkpoint, then stopping; continue with `octoha resume`."
      : `octoha: ${name} received: letting the current step checkpoint, then stopping (press Ctrl-C again to exit now).`,
  second: (name) => `octoha: second ${name}, exiting now; the journal is intact, resume will redo the step in flight.`,
};

/**
 * SIGHUP is what a dropped SSH session or a closed terminal window sends: without a handler Node
 * exits 129 mid-step, leaving the lock held and no resume command. It stops the work like Ctrl-C.
 */
const STOP_SIGNALS: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

/** Whether stdin, stdout and stderr were on a terminal at start: after a hang-up, isatty says no. */
const STARTED_ON_TERMINAL = [0, 1, 2].map((fd) => isatty(fd));

/**
 * After a hang-up, the terminal octoha's stdin, stdout or stderr is on is gone, and Node 20 aborts
 * at exit restoring its settings (tcsetattr fails with EIO: nodejs/node#51519): exit 134 and a core
 * instead of 3. Node skips a descriptor the program closed, so those on a terminal are closed just
 * before exit, once nothing more is written.
 */
function releaseHungUpTerminal(): void {
  process.once("exit", () => {
    for (const [fd, tty] of STARTED_ON_TERMINAL.entries()) {
      if (!tty) continue;
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
    }
  });
}

/** Runs `work` with a signal aborted on the first SIGINT/SIGTERM/SIGHUP; a second SIGINT/SIGTERM exits 3 at once. */
export async function withInterrupts<T>(
  work: (signal: AbortSignal) => Promise<T>,
  messages: InterruptMessages = RUN_INTERRUPTS,
): Promise<T> {
  const controller = new AbortController();
  let hungUp = false;
  const onSignal = (name: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      // A hang-up never means "exit now": one SSH disconnect delivers it twice (the shell forwards it to
      // its jobs, and the kernel sends it again when the shell exits), and nobody is there asking.
      if (name === "SIGHUP") return;
      process.stderr.write(`${messages.second(name)}\n`);
      process.exit(ExitCode.Resumable);
    }
    if (messages.first) process.stderr.write(`${messages.first(name)}\n`);
    if (name === "SIGHUP") {
      hungUp = true;
      releaseHungUpTerminal();
    }
    controller.abort();
  };
  for (const name of STOP_SIGNALS) process.on(name, onSignal);
  try {
    return await work(controller.signal);
  } finally {
    // The disconnect's second SIGHUP may come after the work stopped, while the process exits: Node's
    // default would end it by the signal (no exit code 3). Nothing is asking any more: ignored. Added
    // before onSignal goes: removing a signal's last listener puts back the default disposition, and a
    // SIGHUP landing before the next one is added would end the process.
    if (hungUp) ignoreLateHangUps();
    for (const name of STOP_SIGNALS) process.off(name, onSignal);
  }
}

/**
 * A listener alone does not cover the whole exit: when the event loop runs dry, Node emits 'exit',
 * then closes every handle, its signal handles too (the default disposition is back), and only then
 * tears down V8, its threads and the heap before exit_group: on a loaded machine tens of milliseconds
 * in which a SIGHUP ends the process by the signal, exit code 3 lost. process.exit() skips closing
 * the handles (the handler stays until exit_group), so once the loop is idle the process leaves by it,
 * with the exit code already set; 'beforeExit' comes only then, after every pending write and close.
 */
function ignoreLateHangUps(): void {
  process.on("SIGHUP", () => undefined);
  process.once("beforeExit", () => process.exit());
}
