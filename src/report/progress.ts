/**
 * Progress for a human: a redrawn bar with rate and ETA on a TTY, a plain line every few seconds
 * otherwise (logs, CI). Both render the same CopyProgress events.
 */
import type { CopyProgress } from "../model/copy-results.js";
import { formatBytes, formatDuration } from "./format.js";
import { countOf } from "../shared/plural.js";

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressRenderer {
  update(p: CopyProgress): void;
  /** Ends the bar's line (TTY) so the summary starts on a fresh line. */
  done(): void;
}

function describe(p: CopyProgress): string {
  const eta = p.etaSeconds === undefined ? "ETA --" : `ETA ${formatDuration(p.etaSeconds)}`;
  const trip = p.roundTripMs === undefined ? "" : `  round trip ${formatRoundTrip(p.roundTripMs)}`;
  if (p.phase === "planning") return `${describePlanning(p)}  ${p.filesRate} files/s${trip}`;
  const files = `${p.filesDone}/${p.filesTotal} files`;
  return `${files}  ${formatBytes(p.bytesDone)}/${formatBytes(p.bytesTotal)}  ${p.filesRate} files/s  ${formatBytes(p.rate)}/s${trip}  ${eta}`;
}

/** What planning has looked at so far, and what it found to copy. */
export function describePlanning(p: CopyProgress): string {
  return `looking: ${countOf(p.filesDone, "file")} (${formatBytes(p.bytesDone)}) so far, ${p.filesToCopy ?? 0} to copy (${formatBytes(p.bytesToCopy ?? 0)})`;
}

/** A share's 0.5 ms and a local disk's 0.02 ms both readable. */
function formatRoundTrip(ms: number): string {
  return ms >= 10 ? `${ms.toFixed(0)} ms` : ms >= 0.1 ? `${ms.toFixed(1)} ms` : `${(ms * 1000).toFixed(0)} µs`;
}

export function createProgressRenderer(stream: ProgressStream, options: { plainEveryMs?: number } = {}): ProgressRenderer {
  if (stream.isTTY) {
    let drawn = false;
    return {
      update(p) {
        const fraction = p.bytesTotal > 0 ? p.bytesDone / p.bytesTotal : p.filesTotal > 0 ? p.filesDone / p.filesTotal : 1;
        const width = 24;
        const filled = Math.min(width, Math.round(fraction * width));
        // No bar while planning: nothing is known of the whole yet.
        const bar =
          p.phase === "planning"
            ? ""
            : `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}%  `;
        const line = `${bar}${describe(p)}`;
        stream.write(`\r${line.slice(0, (stream.columns ?? 120) - 1)}\x1b[K`);
        drawn = true;
      },
      done() {
        if (drawn) stream.write("\n");
      },
    };
  }
  const every = options.plainEveryMs ?? 5000;
  let last = 0;
  let lastLine = "";
  // The latest planning event not printed: planning's own last event (what it looked at in all) is
  // printed when the copy starts or the run ends, so that a log never stops at "3 files so far".
  let heldPlanning: CopyProgress | undefined;
  const print = (p: CopyProgress): void => {
    const line = `progress: ${describe(p)}\n`;
    if (line === lastLine) return; // a copy's last event and its closing one say the same
    lastLine = line;
    stream.write(line);
  };
  const flushPlanning = (): void => {
    if (heldPlanning) print(heldPlanning);
    heldPlanning = undefined;
  };
  return {
    update(p) {
      const now = Date.now();
      const planning = p.phase === "planning";
      if (!planning) flushPlanning();
      const finished = !planning && p.filesDone >= p.filesTotal;
      if (now - last < every && !finished) {
        if (planning) heldPlanning = p;
        return;
      }
      last = now;
      heldPlanning = undefined;
      print(p);
    },
    done() {
      flushPlanning();
    },
  };
}
