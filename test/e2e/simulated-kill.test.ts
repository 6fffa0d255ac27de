/**
 * The in-process kill check (expectStoppedAtPlannedPoint) catches a simulated kill that is not where it claims to
 * be: at another record than the planned one, or with records journaled after it; and one that is kinder than a
 * real kill: a run that, after the journal hook threw, still called the stand-in, changed a file under the case's
 * folders (journal, state, node folders, shared folders) or printed anything.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { JournalWriter, readJournal, type JournalRecord } from "../../src/runner/journal.js";
import { Redactor } from "../../src/shared/redact.js";
import {
  effectsBetween,
  expectStoppedAtPlannedPoint,
  observeCase,
  octohaInProcess,
  sharedRoot,
  startCase,
  stepIdsOf,
  verbFor,
  type ChildResult,
  type E2eCase,
  type KillSpec,
} from "./crash-harness.js";

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
  const simulatedKillAt = { stateDir, runId: "r", record, spec, effectsAfterKill: [] as string[] };
  return { code: null, signal: null, events: [], stdout: "", stderr: "", simulatedKillAt };
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

  it("fails when the run still had effects after the kill point", async () => {
    const r = await stoppedAt(["applied"], 1, { type: "step-applied", stepId: "drain-nodes" });
    r.simulatedKillAt!.effectsAfterKill.push("HTTP requests the stand-in received: 1 after the kill point");
    await expect(expectStoppedAtPlannedPoint(r, "kinder")).rejects.toThrow(/went on after the simulated kill/);
  });

  it("fails when the run did not stop at all", async () => {
    const r: ChildResult = { code: 0, signal: null, events: [], stdout: "", stderr: "" };
    await expect(expectStoppedAtPlannedPoint(r, "never stopped")).rejects.toThrow(/did not stop at the planned point/);
  });
});

describe("an in-process kill is as hard as a real one", () => {
  const cases: E2eCase[] = [];
  // Not afterEach: the concurrent tests below would close each other's cases.
  afterAll(async () => {
    await Promise.all(cases.splice(0).map((c) => c.close()));
  });
  const newCase = async () => {
    // Nodes still answer 503 for a while after they start, just not for the stand-in's 2 s.
    const c = await startCase({ startupMs: 300 });
    cases.push(c);
    return c;
  };

  it("the observation of a case sees a call to the stand-in, a change to Octopus, output, a file written and a folder created", async () => {
    const c = await newCase();
    const before = observeCase(c, "");
    const res = await fetch(`${c.standin.url}/api`);
    await res.body?.cancel();
    const [node] = c.standin.cluster.nodes();
    await writeFile(c.standin.cluster.resolvePath(node!.name, "C:\\Octopus\\TaskLogs\\late.txt")!, "late");
    await mkdir(sharedRoot(c), { recursive: true });
    c.standin.cluster.setMaintenanceMode(true);
    const effects = effectsBetween(before, observeCase(c, "printed"));
    expect(effects).toEqual(
      expect.arrayContaining([
        "HTTP requests the stand-in received: 1 after the kill point",
        "characters printed: 7 after the kill point",
        expect.stringMatching(/^Octopus state changed: /),
        expect.stringMatching(/TaskLogs\/late\.txt created after the kill point$/),
        "cluster/shared created after the kill point",
      ]),
    );
  });

  // After every step of both workflows, alternately after "applied" and after "verified": from the instant the
  // journal hook throws, the run calls nothing, writes nothing and prints nothing (expectStoppedAtPlannedPoint).
  it.concurrent.each(["migrate", "repair"] as const)(
    "%s: killed in-process after every step, the run has no effect after the kill point",
    async (w) => {
      const c = await newCase();
      let steps: string[] | undefined;
      for (let k = 0; !steps || k < steps.length; k++) {
        const kill: KillSpec = { type: k % 2 === 0 ? "step-applied" : "step-verified", ...(steps ? { stepId: steps[k]! } : {}) };
        const r = await octohaInProcess(c, k === 0 ? verbFor(w) : "resume", { killOn: kill });
        steps ??= stepIdsOf(r);
        await expectStoppedAtPlannedPoint(r, `${w}, killed after ${kill.type} of ${steps[k]}`);
      }
      const done = await octohaInProcess(c, "resume");
      expect(done.code, done.stderr).toBe(0);
    },
    120_000,
  );
});
