/** Run ids sort in start order, down to the millisecond: resume and rollback without --run take the newest. */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { listRuns, newRunId } from "../../src/runner/runs.js";

describe("run ids", () => {
  it("keep their format: start second, then four hex digits", () => {
    expect(newRunId(new Date("2026-11-26T04:01:02.999Z"))).toMatch(/^20261126T040102Z-[0-9a-f]{4}$/);
  });

  it("of runs started within the same second sort in start order (the suffix is not random alone)", () => {
    // With a random suffix each pair below is in the wrong order half the time.
    for (let ms = 0; ms < 999; ms += 37) {
      const earlier = newRunId(new Date(Date.UTC(2026, 10, 26, 4, 1, 2, ms)));
      const later = newRunId(new Date(Date.UTC(2026, 10, 26, 4, 1, 2, ms + 1)));
      expect(earlier < later, `${earlier} (ms ${ms}) sorts after ${later} (ms ${ms + 1})`).toBe(true);
    }
  });

  it("listRuns names the newest of two runs started in the same second first", async () => {
    const stateDir = await mkdtemp(path.join(os.tmpdir(), "octoha-runs-"));
    try {
      const first = newRunId(new Date("2026-11-26T04:01:02.010Z"));
      const second = newRunId(new Date("2026-11-26T04:01:02.011Z"));
      // Created newest first, so the directory's own order cannot be what sorts them.
      for (const id of [second, first]) await mkdir(path.join(stateDir, "runs", id), { recursive: true });
      expect(await listRuns(stateDir)).toEqual([second, first]);
    } finally {
      await rm(stateDir, { recursive: true, force: true });
    }
  });
});
