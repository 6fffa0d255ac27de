/**
 * The in-process kill check (expectStoppedAtPlannedPoint) catches a simulated kill that is not where it claims to
 * be: at another record than the planned one, or with records journaled after it.
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { JournalWriter, readJournal, type JournalRecord } from "../../src/runner/journal.js";
import { Redactor } from "../../src/shared/redact.js";
import { expectStoppedAtPlannedPoint, type ChildResult, type KillSpec } from "./crash-harness.js";

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** A journal with these records; returns the result of a run "stopped" at record `at` (1-based) for `spec`. */
async function stoppedAt(types: ("applied" | "verified")[], at: number, spec: KillSpec): Promise<ChildResult> {
  const stateDir = await mkdtemp(path.join(os.tmpdir(), "octoha-simkill-"));
  dirs.push(stateDir);
  const w = new JournalWriter({ stateDir, runId: "r", redactor: new Redactor() });
  await w.open();
  for (const t of types)
    await w.append(t === "applied" ? { t, stepId: "drain-nodes", result: {} } : { t, stepId: "drain-nodes", ok: true, summary: "ok" });
  await w.close();
  const record = (await readJournal(stateDir, "r")).records[at - 1] as JournalRecord;
  return { code: null, signal: null, events: [], stdout: "", stderr: "", simulatedKillAt: { stateDir, runId: "r", record, spec } };
}

describe("expectStoppedAtPlannedPoint on an in-process kill", () => {
  it("passes when the run stopped at the planned record and nothing was journaled after it", async () => {
    await expectStoppedAtPlannedPoint(await stoppedAt(["applied"], 1, { type: "step-applied", stepId: "drain-nodes" }), "ok");
  });

  it("fails when the run stopped at another record than the planned one", async () => {
    const r = await stoppedAt(["applied", "verified"], 2, { type: "step-applied", stepId: "drain-nodes" });
    await expect(expectStoppedAtPlannedPoint(r, "wrong record")).rejects.toThrow(/stopped at another record/);
  });

  it("fails when the journal goes on after the record the run claims to have stopped at", async () => {
    const r = await stoppedAt(["applied", "verified"], 1, { type: "step-applied", stepId: "drain-nodes" });
    await expect(expectStoppedAtPlannedPoint(r, "went on")).rejects.toThrow(/goes on past the simulated kill/);
  });

  it("fails when the run did not stop at all", async () => {
    const r: ChildResult = { code: 0, signal: null, events: [], stdout: "", stderr: "" };
    await expect(expectStoppedAtPlannedPoint(r, "never stopped")).rejects.toThrow(/did not stop at the planned point/);
  });
});
