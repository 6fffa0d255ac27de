import path from "node:path";
import { describe, expect, it } from "vitest";
import { copyTree, type CopyProgress } from "../../src/storage/index.js";
import { createProgressRenderer } from "../../src/report/progress.js";
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

describe("the ETA", () => {
  it("is not guessed from the first file (ETA --), and is left / rate once two seconds have passed", () => {
    let now = 1_000_000;
    const events: CopyProgress[] = [];
    const meter = new ProgressMeter(
      1000,
      1000 * 100,
      (p) => events.push(p),
      250,
      undefined,
      () => now,
    );
    now += 40; // the first file took 40 ms: alone it says 1,000 files take 40 s
    meter.add(1, 100);
    expect(events).toHaveLength(1);
    expect(events[0]!.etaSeconds).toBeUndefined();
    const lines: string[] = [];
    createProgressRenderer({ write: (t: string) => lines.push(t) }).update(events[0]!);
    expect(lines[0]).toContain("ETA --");
    // Then 100 files a second, for 2.5 s.
    for (let t = 0; t < 10; t++) {
      now += 250;
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
    let now = 1_000_000;
    const events: CopyProgress[] = [];
    const meter = new ProgressMeter(
      1_002_014,
      2_742_908_501,
      (p) => events.push(p),
      250,
      undefined,
      () => now,
    );
    now += 1;
    meter.add(1_002_014, 2_742_908_501);
    meter.finish();
    // No interval long enough to measure a rate: none is claimed (it said "1002014000 files/s").
    for (const event of events) expect([event.filesRate, event.rate]).toEqual([0, 0]);
    const lines: string[] = [];
    createProgressRenderer({ write: (t: string) => lines.push(t) }).update(events.at(-1)!);
    expect(lines[0]).not.toMatch(/TiB\/s|\d{7,} files\/s/);
  });
});

describe("--concurrency on the run-family verbs", () => {
  it("reaches the copy steps from the journal's string flag, and is absent unless given", () => {
    expect(stepFlags({ concurrency: "32" }).concurrency).toBe(32);
    expect(stepFlags({ cancelTasks: true }).concurrency).toBeUndefined();
  });
});
