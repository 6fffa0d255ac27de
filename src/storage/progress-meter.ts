/**
 * Counts work done against work planned and emits throttled CopyProgress events. Files already at
 * the target are not part of the total, so a resumed copy's ETA is about what is left.
 */
import type { CopyProgress } from "./types.js";

export class ProgressMeter {
  private filesDone = 0;
  private bytesDone = 0;
  private rate = 0;
  private lastEmit = 0;
  private lastBytes = 0;
  private readonly started = Date.now();

  constructor(
    private readonly filesTotal: number,
    private readonly bytesTotal: number,
    private readonly onProgress: ((p: CopyProgress) => void) | undefined,
    private readonly intervalMs = 250,
  ) {}

  add(files: number, bytes: number): void {
    this.filesDone += files;
    this.bytesDone += bytes;
    const now = Date.now();
    if (now - this.lastEmit >= this.intervalMs) this.emit(now);
  }

  /** The final event (always sent, so a renderer can close its bar). */
  finish(): void {
    this.emit(Date.now());
  }

  private emit(now: number): void {
    if (!this.onProgress) return;
    const elapsed = (now - (this.lastEmit || this.started)) / 1000;
    if (elapsed > 0) {
      const instant = (this.bytesDone - this.lastBytes) / elapsed;
      // Exponential smoothing: steady ETA despite a burst of tiny task logs after a big package.
      this.rate = this.rate === 0 ? instant : this.rate * 0.7 + instant * 0.3;
    }
    this.lastEmit = now;
    this.lastBytes = this.bytesDone;
    const left = Math.max(0, this.bytesTotal - this.bytesDone);
    const progress: CopyProgress = {
      filesDone: this.filesDone,
      filesTotal: this.filesTotal,
      bytesDone: this.bytesDone,
      bytesTotal: this.bytesTotal,
      rate: Math.round(this.rate),
    };
    if (this.rate > 0) progress.etaSeconds = Math.round(left / this.rate);
    else if (left === 0) progress.etaSeconds = 0;
    this.onProgress(progress);
  }
}
