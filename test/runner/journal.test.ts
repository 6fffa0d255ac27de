import { existsSync, readFileSync, rmSync, writeFileSync, appendFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { journalFile, JournalWriter, parseJournal, readJournal, type JournalEntry } from "../../src/runner/journal.js";
import { lockFile } from "../../src/runner/lock.js";
import { runSteps } from "../../src/runner/run-steps.js";
import { readRunStatus } from "../../src/runner/status.js";
import { renderStatus } from "../../src/report/status-view.js";
import type { Step } from "../../src/runner/step.js";
import { Redactor } from "../../src/shared/redact.js";
import { hostBootTime } from "../../src/shared/lock.js";
import { OctohaError } from "../../src/shared/errors.js";
import { readWorld, RecordingView, settingStep, tempDir } from "./helpers.js";

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

function setup() {
  const t = tempDir();
  cleanups.push(t.cleanup);
  const worldFile = path.join(t.dir, "world.json");
  const undoLog: string[] = [];
  const steps = [
    settingStep(worldFile, "one", "a", "1", { undoLog }),
    settingStep(worldFile, "two", "b", "2", { undoLog, requiresApproval: true }),
  ];
  const base = { stateDir: path.join(t.dir, "state"), steps, signal: new AbortController().signal, redactor: new Redactor() };
  return { worldFile, base };
}

/** Runs up to the approval gate of step two: a journal of a resumable run. */
async function stoppedRun(s: ReturnType<typeof setup>) {
  const run = await runSteps({ ...s.base, mode: "run", approve: "no", view: new RecordingView() });
  expect(run.exitCode).toBe(3);
  return { run, file: journalFile(s.base.stateDir, run.runId) };
}

describe("journal", () => {
  it("a torn last line (crash mid-write) is ignored with a warning and the run resumes", async () => {
    const s = setup();
    const { run, file } = await stoppedRun(s);
    appendFileSync(file, '{"v":1,"at":17,"t":"checkpoint","stepId":"tw');
    const view = new RecordingView();
    const resumed = await runSteps({ ...s.base, mode: "resume", approve: "yes", runId: run.runId, view });
    expect(resumed.exitCode).toBe(0);
    expect(view.notices.find((n) => n.type === "warning")).toMatchObject({ message: expect.stringContaining("torn last line") });
    expect(readWorld(s.worldFile)).toEqual({ a: "1", b: "2" });
    // The torn fragment was cut off before appending, so the journal reads back clean.
    const back = await readJournal(s.base.stateDir, run.runId);
    expect(back.tornLastLine).toBeUndefined();
  });

  it("a corrupt line in the middle stops with file:line and changes nothing", async () => {
    const s = setup();
    const { run, file } = await stoppedRun(s);
    const lines = readFileSync(file, "utf8").split("\n");
    lines[2] = "{not json";
    writeFileSync(file, lines.join("\n"));
    const before = readFileSync(file);
    const attempt = runSteps({ ...s.base, mode: "resume", approve: "yes", runId: run.runId, view: new RecordingView() });
    await expect(attempt).rejects.toThrow(`${file}:3 is damaged`);
    await expect(attempt).rejects.toMatchObject({ code: "JOURNAL_CORRUPT" });
    expect(readFileSync(file).equals(before)).toBe(true);
    expect(existsSync(lockFile(s.base.stateDir))).toBe(false);
    expect(readWorld(s.worldFile)).toEqual({ a: "1" });
  });

  it("a snapshot journaled by an older machine version is refused with a clear message", async () => {
    const s = setup();
    const { run, file } = await stoppedRun(s);
    // The same records, journaled (checksummed) as a runner with machine version 0 would have.
    const { records } = await readJournal(s.base.stateDir, run.runId);
    rmSync(path.dirname(file), { recursive: true });
    const writer = new JournalWriter({ stateDir: s.base.stateDir, runId: run.runId, redactor: new Redactor() });
    await writer.open();
    for (const { v: _v, seq: _seq, at: _at, ...entry } of records)
      await writer.append(JSON.parse(JSON.stringify(entry).replace(/"machineVersion":1/g, '"machineVersion":0')) as JournalEntry);
    await writer.close();
    const old = readFileSync(file, "utf8");
    expect(old).toContain('"machineVersion":0');
    const err = await runSteps({ ...s.base, mode: "resume", approve: "yes", runId: run.runId, view: new RecordingView() }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(OctohaError);
    expect((err as OctohaError).message).toBe(
      `Journal of run ${run.runId} was written by runner machine version 0; this octoha has version 1`,
    );
    expect((err as OctohaError).hint).toContain("Finish or roll back that run with the octoha version that started it");
    expect(readFileSync(file, "utf8")).toBe(old);
    expect(readWorld(s.worldFile)).toEqual({ a: "1" });
  });

  it("every record carries the format version and the run's snapshots carry the machine version", async () => {
    const s = setup();
    const { run } = await stoppedRun(s);
    const { records } = await readJournal(s.base.stateDir, run.runId);
    expect(records.every((r) => r.v === 2)).toBe(true);
    expect(records.map((r) => r.seq)).toEqual(records.map((_, i) => i + 1));
    const snaps = records.filter((r) => r.t === "snapshot");
    expect(snaps.length).toBeGreaterThan(3);
    expect(snaps.map((r) => (r.t === "snapshot" ? r.state : ""))).toContain("awaitingApproval");
    expect(records.at(-1)).toMatchObject({ t: "outcome", status: "awaiting-approval", exitCode: 3 });
  });

  it("a line of a future journal format is refused, naming the versions", () => {
    expect(() => parseJournal("j.jsonl", '{"v":9,"at":1,"t":"outcome","status":"done","exitCode":0}\n')).toThrow(
      "Journal j.jsonl:1: unsupported journal format version: expected 2, found 9",
    );
  });

  it("secrets in checkpoints are redacted in the journal file bytes", async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const redactor = new Redactor();
    redactor.add("registered-s3cr3t-value");
    const step: Step<{ conn: string; token: string }> = {
      id: "leaky",
      title: "checkpoints secrets",
      inspect: () => Promise.resolve({ changes: [], findings: [] }),
      async apply(ctx) {
        const data = { conn: "Server=sql01;Database=Octopus;Password=Hunter2-ultra;", token: "registered-s3cr3t-value" };
        await ctx.checkpoint(data);
        return data;
      },
      verify: () => Promise.resolve({ ok: true, summary: "ok" }),
      rollback: () => Promise.resolve(),
    };
    const out = await runSteps({
      stateDir: t.dir,
      steps: [step],
      mode: "run",
      approve: "yes",
      signal: new AbortController().signal,
      view: new RecordingView(),
      redactor,
    });
    expect(out.exitCode).toBe(0);
    const bytes = readFileSync(journalFile(t.dir, out.runId), "utf8");
    expect(bytes).not.toContain("Hunter2-ultra");
    expect(bytes).not.toContain("registered-s3cr3t-value");
    expect(bytes).toContain("Password=***");
  });
});

describe("status of an unfinished run", () => {
  it("says the command that continues it; a finished run has none", async () => {
    const s = setup();
    const { run } = await stoppedRun(s);
    const stopped = await readRunStatus({ stateDir: s.base.stateDir, runId: run.runId });
    expect(stopped.continueWith).toBe(`octoha resume --state-dir ${s.base.stateDir} --run ${run.runId}`);
    expect(renderStatus(stopped, new Redactor())).toContain(
      `To continue it: octoha resume --state-dir ${s.base.stateDir} --run ${run.runId}`,
    );
    await runSteps({ ...s.base, mode: "resume", approve: "yes", runId: run.runId, view: new RecordingView() });
    expect((await readRunStatus({ stateDir: s.base.stateDir, runId: run.runId })).continueWith).toBeUndefined();
  });
});

describe("status of a run whose lock's holder is alive on this host", () => {
  it("says it is running (perhaps suspended), not the resume that would be refused", async () => {
    const s = setup();
    const { run } = await stoppedRun(s);
    // This test's process stands in for the holder: alive here, suspended long enough that its heartbeat stopped.
    const heartbeat = new Date(Date.now() - 10 * 60_000).toISOString();
    const holder = { id: run.runId, operation: "resume", who: "ops@here", host: os.hostname(), pid: process.pid, version: "0.1.0" };
    writeFileSync(
      lockFile(s.base.stateDir),
      JSON.stringify({ ...holder, created: heartbeat, path: s.base.stateDir, heartbeat, boot: hostBootTime() }),
    );
    const status = await readRunStatus({ stateDir: s.base.stateDir, runId: run.runId });
    expect(status.continueWith).toBeUndefined();
    const text = renderStatus(status, new Redactor());
    expect(text).not.toContain("To continue it");
    expect(text).toContain(
      `Running now: run ${run.runId} (resume), process ${process.pid} on ${os.hostname()} holds the lock and is still running here.`,
    );
    expect(text).toMatch(/perhaps suspended \(Ctrl-Z\)/);
  });
});

describe("status of a rollback that failed", () => {
  it("says to continue with rollback (as the rollback itself says), not resume", async () => {
    const s = setup();
    const run = await runSteps({ ...s.base, mode: "run", approve: "yes", view: new RecordingView() });
    expect(run.exitCode).toBe(0);
    const failing: Step = { ...s.base.steps[1]!, rollback: () => Promise.reject(new Error("the node's recipe failed")) };
    const rollback = await runSteps({
      ...s.base,
      steps: [s.base.steps[0]!, failing],
      mode: "rollback",
      approve: "yes",
      runId: run.runId,
      view: new RecordingView(),
    });
    expect(rollback.exitCode).toBe(1);
    const status = await readRunStatus({ stateDir: s.base.stateDir, runId: run.runId });
    expect(status.continueWith).toBe(`octoha rollback --state-dir ${s.base.stateDir} --run ${run.runId}`);
  });
});

describe("status of a rolled-back run", () => {
  it("shows the undone steps as rolled-back, not pending; a step kept by rollback --to stays verified", async () => {
    const s = setup();
    const run = await runSteps({ ...s.base, mode: "run", approve: "yes", view: new RecordingView() });
    expect(run.exitCode).toBe(0);
    const partial = await runSteps({
      ...s.base,
      mode: "rollback",
      approve: "yes",
      runId: run.runId,
      rollbackTo: "two",
      view: new RecordingView(),
    });
    expect(partial.exitCode).toBe(4);
    const afterPartial = await readRunStatus({ stateDir: s.base.stateDir, runId: run.runId });
    expect(afterPartial.steps.map((st) => [st.id, st.state])).toEqual([
      ["one", "verified"],
      ["two", "rolled-back"],
    ]);
    const full = await runSteps({ ...s.base, mode: "rollback", approve: "yes", runId: run.runId, view: new RecordingView() });
    expect(full.exitCode).toBe(4);
    const status = await readRunStatus({ stateDir: s.base.stateDir, runId: run.runId });
    expect(status.steps.map((st) => [st.id, st.state])).toEqual([
      ["one", "rolled-back"],
      ["two", "rolled-back"],
    ]);
    expect(renderStatus(status, new Redactor())).toMatch(/^one +rolled-back +0$/m);
  });
});

describe("a new run over an unfinished one", () => {
  it("is refused with the commands that resume or undo the unfinished run, and changes nothing", async () => {
    const s = setup();
    const { run } = await stoppedRun(s);
    const err = await runSteps({ ...s.base, mode: "run", approve: "yes", view: new RecordingView() }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "RUN_UNFINISHED", exitCode: 1 });
    expect((err as OctohaError).hint).toContain(`octoha resume --state-dir ${s.base.stateDir} --run ${run.runId}`);
    expect((err as OctohaError).hint).toContain(`octoha rollback --state-dir ${s.base.stateDir} --run ${run.runId}`);
    expect(readWorld(s.worldFile)).toEqual({ a: "1" });
    expect(existsSync(lockFile(s.base.stateDir))).toBe(false);
    const done = await runSteps({ ...s.base, mode: "resume", approve: "yes", view: new RecordingView() });
    expect(done.exitCode).toBe(0);
    const next = await runSteps({ ...s.base, mode: "run", approve: "yes", view: new RecordingView() });
    expect(next.exitCode).toBe(0);
  });
});

describe("a failed run whose steps changed nothing (skipped, or read-only)", () => {
  it("does not block a new run, and its rollback has nothing to undo", async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const acted: string[] = [];
    const step = (id: string, o: { skipped?: boolean; fails?: boolean; readOnly?: boolean } = {}): Step => ({
      id,
      title: id,
      ...(o.readOnly ? { readOnly: true } : {}),
      changedNothing: (r) => (r as { skipped?: boolean } | undefined)?.skipped === true,
      inspect: () => Promise.resolve({ changes: [], findings: [] }),
      apply: () => {
        if (o.fails) return Promise.reject(new OctohaError(`${id} failed`, { code: "VERIFY_FAILED" }));
        if (!o.skipped) acted.push(id);
        return Promise.resolve(o.skipped ? { skipped: true } : { done: true });
      },
      verify: () => Promise.resolve({ ok: true, summary: "ok" }),
      rollback: () => {
        acted.push(`undo ${id}`);
        return Promise.resolve();
      },
    });
    const base = { stateDir: t.dir, approve: "yes" as const, signal: new AbortController().signal, redactor: new Redactor() };
    const failed = await runSteps({
      ...base,
      mode: "run",
      steps: [step("check", { readOnly: true }), step("stop", { skipped: true }), step("verify", { readOnly: true, fails: true })],
      view: new RecordingView(),
    });
    expect(failed.exitCode).toBe(1);
    expect(failed.rollbackCommand).toBeUndefined(); // nothing to undo: not offered
    const undo = await runSteps({
      ...base,
      mode: "rollback",
      runId: failed.runId,
      steps: [step("check", { readOnly: true }), step("stop", { skipped: true }), step("verify", { readOnly: true, fails: true })],
      view: new RecordingView(),
    });
    expect(undo.undone).not.toContain("stop");
    expect(acted).not.toContain("undo stop");
    // Not refused as "unfinished": the failed run changed nothing.
    const next = await runSteps({
      ...base,
      mode: "run",
      steps: [step("check", { readOnly: true }), step("stop")],
      view: new RecordingView(),
    });
    expect(next.exitCode).toBe(0);
  });
});

describe("journal writer", () => {
  it("cuts a torn tail longer than its read-back chunk, keeping every complete line", async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const w0 = new JournalWriter({ stateDir: t.dir, runId: "r", redactor: new Redactor() });
    await w0.open();
    await w0.append({ t: "checkpoint", stepId: "copy", data: { big: "x".repeat(100_000) } });
    await w0.close();
    const file = journalFile(t.dir, "r");
    const complete = readFileSync(file, "utf8");
    appendFileSync(file, `{"v":1,"at":2,"t":"checkpoint","stepId":"copy","data":{"big":"${"y".repeat(150_000)}`);
    const w1 = new JournalWriter({ stateDir: t.dir, runId: "r", redactor: new Redactor() });
    await w1.open();
    await w1.append({ t: "applied", stepId: "copy", result: { ok: true } });
    await w1.close();
    const after = readFileSync(file, "utf8");
    expect(after.startsWith(complete)).toBe(true);
    const { records, tornLastLine } = await readJournal(t.dir, "r");
    expect(tornLastLine).toBeUndefined();
    expect(records.map((r) => r.t)).toEqual(["checkpoint", "applied"]);
  });

  it("an afterWrite hook that throws stops the writer as a kill would: that record is on disk, nothing after it is", async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const crash = new Error("simulated crash");
    const afterWrite = (_n: number, r: { t: string }) => {
      if (r.t === "applied") throw crash;
    };
    const w = new JournalWriter({ stateDir: t.dir, runId: "r", redactor: new Redactor(), afterWrite });
    await w.open();
    await w.append({ t: "checkpoint", stepId: "copy", data: { n: 1 } });
    await expect(w.append({ t: "applied", stepId: "copy", result: { ok: true } })).rejects.toBe(crash);
    await expect(w.append({ t: "verified", stepId: "copy", ok: true, summary: "ok" })).rejects.toBe(crash);
    await expect(w.flush()).rejects.toBe(crash);
    await w.close();
    const { records } = await readJournal(t.dir, "r");
    expect(records.map((r) => r.t)).toEqual(["checkpoint", "applied"]);
  });
});

describe("journal.head", () => {
  it("a crash after a record is on disk but before journal.head names it is no damage: the head is a lower bound", async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const w = new JournalWriter({ stateDir: t.dir, runId: "r", redactor: new Redactor() });
    await w.open();
    await w.append({ t: "checkpoint", stepId: "one", data: { n: 1 } });
    await w.close();
    const headFile = path.join(path.dirname(journalFile(t.dir, "r")), "journal.head");
    const afterOne = readFileSync(headFile);
    const w2 = new JournalWriter({ stateDir: t.dir, runId: "r", redactor: new Redactor() });
    await w2.open();
    await w2.append({ t: "checkpoint", stepId: "one", data: { n: 2 } });
    await w2.close();
    writeFileSync(headFile, afterOne);
    const { records } = await readJournal(t.dir, "r");
    expect(records.map((r) => (r.t === "checkpoint" ? r.data : undefined))).toEqual([{ n: 1 }, { n: 2 }]);
    // Without journal.head the end of a checked journal cannot be proven: refused.
    rmSync(headFile);
    await expect(readJournal(t.dir, "r")).rejects.toThrow(/:2 is damaged: journal.head beside it is missing/);
  });
});
