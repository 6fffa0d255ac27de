import path from "node:path";
import { describe, expect, it } from "vitest";
import { copyTree, type CopyProgress } from "../../src/storage/index.js";
import { createProgressRenderer } from "../../src/report/progress.js";
import { renderCopySummaryText } from "../../src/report/copy-summary.js";
import { emptyCopySummary } from "../../src/model/copy-results.js";
import { stepFlags } from "../../src/steps/deps.js";
import { ProgressMeter } from "../../src/storage/progress-meter.js";
import { latencyOps } from "./round-trip-ops.js";
import { tempDirs, writeFile } from "./helpers.js";

const dir = tempDirs();

describe("the copy's progress line", () => {
  it("shows files per second and the round trip to a target that takes 2 ms a call", async () => {
    const source = dir("src");
    for (let i = 0; i < 40; i++) writeFile(source, `F${i % 4}/ServerTasks-${i}.log.txt`, `log ${i}\n`);
    const target = dir("target");
    const events: CopyProgress[] = [];
    await copyTree({
      source,
      target,
      manifestPath: path.join(target, ".octoha", "m.jsonl"),
      ops: latencyOps(2),
      onProgress: (p) => events.push(p),
    });
    const last = events.at(-1)!;
    expect(last.filesDone).toBe(40);
    expect(last.filesRate).toBeGreaterThan(0);
    // At least the injected 2 ms (latencyOps waits that long by the engine's clock), and not the
    // seconds of the whole copy.
    expect(last.roundTripMs).toBeGreaterThanOrEqual(2);
    expect(last.roundTripMs).toBeLessThan(1000);
    const lines: string[] = [];
    createProgressRenderer({ write: (t: string) => lines.push(t) }).update(last);
    expect(lines[0]).toMatch(/40\/40 files .* \d+ files\/s .* round trip \d+(\.\d)? ms/);
  });

  it("says nothing of a round trip before one was timed", () => {
    const lines: string[] = [];
    const p: CopyProgress = { filesDone: 1, filesTotal: 1, bytesDone: 10, bytesTotal: 10, rate: 10, filesRate: 1 };
    createProgressRenderer({ write: (t: string) => lines.push(t) }).update(p);
    expect(lines[0]).not.toContain("round trip");
  });
});

/** A meter of `files` and `bytes` on a clock the test moves (`pass`), and the events it sent. */
function meterOnFakeClock(files: number, bytes: number): { meter: ProgressMeter; events: CopyProgress[]; pass: (ms: number) => void } {
  let now = 1_000_000;
  const events: CopyProgress[] = [];
  const meter = new ProgressMeter(
    files,
    bytes,
    (p) => events.push(p),
    250,
    undefined,
    () => now,
  );
  return { meter, events, pass: (ms) => void (now += ms) };
}

describe("the ETA", () => {
  it("is not guessed from the first file (ETA --), and is left / rate once two seconds have passed", () => {
    const { meter, events, pass } = meterOnFakeClock(1000, 1000 * 100);
    pass(40); // the first file took 40 ms: alone it says 1,000 files take 40 s
    meter.add(1, 100);
    expect(events).toHaveLength(1);
    expect(events[0]!.etaSeconds).toBeUndefined();
    const lines: string[] = [];
    createProgressRenderer({ write: (t: string) => lines.push(t) }).update(events[0]!);
    expect(lines[0]).toContain("ETA --");
    // Then 100 files a second, for 2.5 s.
    for (let t = 0; t < 10; t++) {
      pass(250);
      meter.add(25, 2500);
    }
    const last = events.at(-1)!;
    expect(last.filesDone).toBe(251);
    expect(last.etaSeconds).toBeDefined();
    expect(last.etaSeconds!).toBeGreaterThanOrEqual(7);
    expect(last.etaSeconds!).toBeLessThanOrEqual(8); // 749 files left at 100 a second
    meter.add(749, 74_900);
    meter.finish();
    expect(events.at(-1)!.etaSeconds).toBe(0);
  });
});

describe("the rate", () => {
  it("is not taken from a burst counted in one millisecond (a dry-run counts its files at the end)", () => {
    const { meter, events, pass } = meterOnFakeClock(1_002_014, 2_742_908_501);
    pass(1);
    meter.add(1_002_014, 2_742_908_501);
    meter.finish();
    // No interval long enough to measure a rate: none is claimed (it said "1002014000 files/s").
    for (const event of events) expect([event.filesRate, event.rate]).toEqual([0, 0]);
    const lines: string[] = [];
    createProgressRenderer({ write: (t: string) => lines.push(t) }).update(events.at(-1)!);
    expect(lines[0]).not.toMatch(/TiB\/s|\d{7,} files\/s/);
  });
});

describe("progress while a copy plans", () => {
  it("says how many files were looked at and how many are to copy, before the copy's own events, and in a dry-run", async () => {
    const source = dir("src");
    for (let i = 0; i < 600; i++) writeFile(source, `TaskLogs/servertasks-${i}_A.txt`, `log ${i}\n`);
    const target = dir("target");
    const events: CopyProgress[] = [];
    const manifestPath = path.join(target, ".octoha", "m.jsonl");
    await copyTree({ source, target, manifestPath, onProgress: (p) => events.push(p) });
    const firstCopy = events.findIndex((p) => p.phase !== "planning");
    expect(firstCopy).toBeGreaterThan(0); // planning first
    expect(events.slice(firstCopy).every((p) => p.phase === undefined)).toBe(true);
    const planned = events.slice(0, firstCopy);
    expect(planned.every((p) => p.filesTotal === 0 && p.etaSeconds === undefined)).toBe(true);
    expect(planned.map((p) => p.filesDone)).toEqual([...planned.map((p) => p.filesDone)].sort((a, b) => a - b));
    expect(planned.at(-1)!.filesToCopy).toBe(planned.at(-1)!.filesDone);

    // A dry-run of a new file against that target: nothing else to copy.
    writeFile(source, "TaskLogs/servertasks-999_A.txt", "new\n");
    const dry: CopyProgress[] = [];
    await copyTree({ source, target, manifestPath, dryRun: true, onProgress: (p) => dry.push(p) });
    const lastLook = dry.filter((p) => p.phase === "planning").at(-1)!;
    expect(lastLook).toMatchObject({ filesToCopy: 1, bytesToCopy: 4 });
    expect(lastLook.filesDone).toBeGreaterThan(0);
  });

  it("renders as a line without a bar on a terminal, and as a plain line every few seconds in a log", () => {
    const p: CopyProgress = {
      phase: "planning",
      filesDone: 230_114,
      filesTotal: 0,
      bytesDone: 5 * 2 ** 30,
      bytesTotal: 0,
      rate: 0,
      filesRate: 91_000,
      filesToCopy: 1204,
      bytesToCopy: 3 * 2 ** 20,
    };
    const tty: string[] = [];
    createProgressRenderer({ write: (t: string) => tty.push(t), isTTY: true, columns: 200 }).update(p);
    expect(tty[0]).toContain("looking: 230114 files (5.0 GiB) so far, 1204 to copy (3.0 MiB)  91000 files/s");
    expect(tty[0]).not.toMatch(/\[[#-]+\]/); // no bar
    expect(tty[0]).not.toContain("ETA");
    const plain: string[] = [];
    const log = createProgressRenderer({ write: (t: string) => plain.push(t) }, { plainEveryMs: 60_000 });
    log.update(p);
    log.update({ ...p, filesDone: p.filesDone + 1 });
    expect(plain).toHaveLength(1); // not every event: planning is never "finished"
  });

  it("says one file as one file, not '1 files'", () => {
    const lines: string[] = [];
    const p: CopyProgress = {
      phase: "planning",
      filesDone: 1,
      filesTotal: 0,
      bytesDone: 5,
      bytesTotal: 0,
      rate: 0,
      filesRate: 1,
      filesToCopy: 1,
      bytesToCopy: 5,
    };
    createProgressRenderer({ write: (t: string) => lines.push(t), isTTY: true, columns: 200 }).update(p);
    expect(lines[0]).toContain("looking: 1 file (5 B) so far, 1 to copy");
    expect(renderCopySummaryText({ ...emptyCopySummary(), filesCopied: 1 }, false)).toMatch(/^copied 1 file \(/);
    expect(renderCopySummaryText({ ...emptyCopySummary(), filesCopied: 2 }, false)).toMatch(/^copied 2 files \(/);
    expect(renderCopySummaryText({ ...emptyCopySummary(), filesCopied: 0 }, true)).toMatch(/^would copy 0 files \(/);
  });

  it("a file name with a newline stays on its line in the summary (shown as \\u000a)", () => {
    const summary = {
      ...emptyCopySummary(),
      collisions: [
        {
          relPath: "TaskLogs/new\nline.txt",
          targetRelPath: "TaskLogs/new\nline.txt",
          kind: "different-bytes" as const,
          winner: "target" as const,
          reason: "r",
          node: "N2",
        },
      ],
      nameProblems: [
        { relPath: "TaskLogs/tab\there.txt", problem: "invalid-windows-name" as const, detail: "'tab\there.txt' contains '\\x09'" },
      ],
      errors: [{ relPath: "TaskLogs/bell\u0007.txt", code: "COPY_X", message: "failed" }],
    };
    const lines = renderCopySummaryText(summary, false).trimEnd().split("\n");
    expect(lines).toHaveLength(5); // the name problems' fix is a line of its own, after them
    expect(lines[1]).toContain("TaskLogs/new\\u000aline.txt vs TaskLogs/new\\u000aline.txt");
    expect(lines[2]).toContain("TaskLogs/tab\\u0009here.txt");
    expect(lines[3]).toContain("copied all the same (not fatal)");
    expect(lines[4]).toContain("TaskLogs/bell\\u0007.txt");
  });

  it("a log keeps planning's last count, printed when the copy starts, and prints the copy's last line once", () => {
    const looked = (filesDone: number): CopyProgress => ({
      phase: "planning",
      filesDone,
      filesTotal: 0,
      bytesDone: filesDone * 1000,
      bytesTotal: 0,
      rate: 0,
      filesRate: 40_000,
      filesToCopy: 0,
      bytesToCopy: 0,
    });
    const copied: CopyProgress = { filesDone: 0, filesTotal: 0, bytesDone: 0, bytesTotal: 0, rate: 0, filesRate: 0, etaSeconds: 0 };
    const plain: string[] = [];
    const log = createProgressRenderer({ write: (t: string) => plain.push(t) }, { plainEveryMs: 60_000 });
    for (const n of [3, 20_000, 53_064]) log.update(looked(n));
    log.update(copied);
    log.update(copied); // the copy's closing event says the same
    log.done();
    expect(plain).toEqual([
      expect.stringContaining("looking: 3 files"),
      expect.stringContaining("looking: 53064 files"),
      expect.stringContaining("0/0 files"),
    ]);
    // A dry-run plans and never copies: its last count comes out when the run ends.
    const dry: string[] = [];
    const dryLog = createProgressRenderer({ write: (t: string) => dry.push(t) }, { plainEveryMs: 60_000 });
    for (const n of [3, 1_002_014]) dryLog.update(looked(n));
    dryLog.done();
    expect(dry).toEqual([expect.stringContaining("looking: 3 files"), expect.stringContaining("looking: 1002014 files")]);
  });
});

describe("--concurrency on the run-family verbs", () => {
  it("reaches the copy steps from the journal's string flag, and is absent unless given", () => {
    expect(stepFlags({ concurrency: "32" }).concurrency).toBe(32);
    expect(stepFlags({ cancelTasks: true }).concurrency).toBeUndefined();
  });
});
