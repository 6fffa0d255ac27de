/**
 * Steps' progress lines for people, thinned: a copy step reports every 250 ms, and a line per event
 * was ~14,000 lines an hour. Each job of a step (a copy step's folder and node: its events' data.kind
 * and data.node) prints at most one line per `everyMs`. The latest line held back is printed when
 * the next job of the step speaks, or at flush() (before the step's verdict, a warning, the end), so
 * each job's final count is never lost; a held line that repeats the last one printed is dropped.
 * So is each phase's: when a job moves on from planning to copying (or to checking), its last
 * planning line is printed first ("looking, 40 files so far, 40 to copy", not the first event's "1
 * file so far" and then "40/40 files").
 */
import type { StepEvent } from "../model/run.js";

interface StepLines {
  at: number;
  job: string;
  /** The phase of the job's last event (a copy's "planning", or "" while it copies). */
  phase: string;
  printed: string;
  held?: string;
}

/** Which of a step's jobs a progress event is about (a copy step's folder and node), "" when it does not say. */
function jobOf(event: StepEvent): string {
  const { kind, node } = event.data ?? {};
  return typeof kind === "string" || typeof node === "string" ? `${String(kind)}/${String(node)}` : "";
}

/** A progress event's phase (CopyProgress.phase), "" when it has none. */
function phaseOf(event: StepEvent): string {
  const phase = event.data?.phase;
  return typeof phase === "string" ? phase : "";
}

export class StepProgressLines {
  private readonly steps = new Map<string, StepLines>();

  constructor(
    private readonly print: (stepId: string, message: string) => void,
    private readonly clock: () => number = Date.now,
    private readonly everyMs = 5000,
  ) {}

  /** A step's progress event: printed now, or held back until its job's next line is due. */
  progress(stepId: string, event: StepEvent): void {
    const now = this.clock();
    const job = jobOf(event);
    const phase = phaseOf(event);
    const last = this.steps.get(stepId);
    if (last && last.job !== job) {
      // The step's next job (a copy step's next node): the one before keeps its last line (its final
      // count), and this one starts with its first.
      this.printHeld(stepId, last);
    } else if (last) {
      // The same job in its next phase: the phase before keeps its last line, which starts the wait.
      if (last.phase !== phase && this.printHeld(stepId, last)) last.at = now;
      last.phase = phase;
      if (now - last.at < this.everyMs) {
        last.held = event.message;
        return;
      }
    }
    this.steps.set(stepId, { at: now, job, phase, printed: event.message });
    this.print(stepId, event.message);
  }

  /** The lines held back, before any other line. */
  flush(): void {
    for (const [stepId, last] of this.steps) this.printHeld(stepId, last);
  }

  /** Prints the line held back, unless it repeats the last one printed; true when it printed. */
  private printHeld(stepId: string, last: StepLines): boolean {
    const held = last.held;
    if (held === undefined) return false;
    last.held = undefined;
    if (held === last.printed) return false;
    this.print(stepId, held);
    last.printed = held;
    return true;
  }
}
