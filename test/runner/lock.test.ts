import { spawnSync } from "node:child_process";
import fsp from "node:fs/promises";
import { syncBuiltinESMExports } from "node:module";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { acquireLock, lockFile, readLock, staleness, unlock, type LockInfo } from "../../src/runner/lock.js";
import { hostBootTime } from "../../src/shared/lock.js";
import { journalFile } from "../../src/runner/journal.js";
import { runSteps } from "../../src/runner/run-steps.js";
import type { Step } from "../../src/runner/step.js";
import { Redactor } from "../../src/shared/redact.js";
import { OctohaError } from "../../src/shared/errors.js";
import { RecordingView, tempDir } from "./helpers.js";

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

function gatedStep(): { step: Step; started: Promise<void>; release: () => void } {
  let release!: () => void;
  let started!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const startedP = new Promise<void>((r) => (started = r));
  const step: Step = {
    id: "wait",
    title: "waits for the test",
    inspect: () => Promise.resolve({ changes: [], findings: [] }),
    async apply() {
      started();
      await gate;
      return {};
    },
    verify: () => Promise.resolve({ ok: true, summary: "ok" }),
    rollback: () => Promise.resolve(),
  };
  return { step, started: startedP, release };
}

function deadPid(): number {
  const child = spawnSync(process.execPath, ["-e", ""]);
  return child.pid!;
}

function writeLock(stateDir: string, info: Partial<LockInfo>): LockInfo {
  const now = new Date().toISOString();
  const full: LockInfo = {
    id: "20260101T000000Z-dead",
    operation: "run",
    who: "ops@elsewhere",
    host: os.hostname(),
    pid: process.pid,
    version: "0.1.0",
    created: now,
    path: stateDir,
    heartbeat: now,
    ...info,
  };
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(lockFile(stateDir), JSON.stringify(full));
  return full;
}

const base = () => ({ mode: "run" as const, approve: "yes" as const, signal: new AbortController().signal, redactor: new Redactor() });

describe("state lock", () => {
  it("a second run while one is active is refused and names the holder", async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const g = gatedStep();
    const first = runSteps({ ...base(), stateDir: t.dir, steps: [g.step], view: new RecordingView() });
    await g.started;
    const holder = await readLock(t.dir);
    const second = await runSteps({ ...base(), stateDir: t.dir, steps: [g.step], view: new RecordingView() }).catch((e: unknown) => e);
    expect(second).toMatchObject({ code: "STATE_LOCKED", exitCode: 1 });
    expect((second as Error).message).toContain(
      `locked by run ${holder!.id} (run) by ${os.userInfo().username}@${os.hostname()}, pid ${process.pid}`,
    );
    g.release();
    expect((await first).exitCode).toBe(0);
    expect(existsSync(lockFile(t.dir))).toBe(false);
  });

  it("a lock left by a dead process whose run recorded something is reported as stale with the exact unlock command, and unlock releases it", async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const stale = writeLock(t.dir, { pid: deadPid() });
    // A run that recorded nothing changed nothing, and a new run takes its lock over (e2e kill-before-first-record).
    mkdirSync(path.dirname(journalFile(t.dir, stale.id)), { recursive: true });
    writeFileSync(journalFile(t.dir, stale.id), '{"v":2,"seq":1,"t":"run"}\n');
    const err = await runSteps({ ...base(), stateDir: t.dir, steps: [gatedStep().step], view: new RecordingView() }).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: "STATE_LOCK_STALE", exitCode: 1 });
    expect((err as { hint: string }).hint).toContain(`is no longer running`);
    expect((err as { hint: string }).hint).toContain(`octoha unlock ${stale.id} --state-dir ${JSON.stringify(t.dir)}`);
    expect((err as { hint: string }).hint).toContain("Warning");
    const released = await unlock(t.dir, stale.id);
    expect(released.wasStale).toBe(true);
    expect(existsSync(lockFile(t.dir))).toBe(false);
  });

  it("a stale lock's hint shows the resume command with the plan file the operator gave, quoted for the shell, never a literal PLAN", async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const stale = writeLock(t.dir, { pid: deadPid() });
    mkdirSync(path.dirname(journalFile(t.dir, stale.id)), { recursive: true });
    writeFileSync(journalFile(t.dir, stale.id), '{"v":2,"seq":1,"t":"run"}\n');
    const planFile = path.join(t.dir, "my plans", "prod plan.json");
    const refused = async (invocation?: { planFile: string }) =>
      (await runSteps({
        ...base(),
        stateDir: t.dir,
        steps: [gatedStep().step],
        view: new RecordingView(),
        ...(invocation ? { invocation } : {}),
      }).catch((e: unknown) => e)) as { code: string; hint: string };
    const withPlan = await refused({ planFile });
    expect(withPlan.code).toBe("STATE_LOCK_STALE");
    expect(withPlan.hint).toContain(
      `Continuing that run takes its lock over, no unlock needed:\n  octoha resume ${JSON.stringify(planFile)} --run ${stale.id}\n`,
    );
    expect(withPlan.hint).not.toContain("PLAN");
    // Without a plan file (a resume given only --state-dir), the command names the state directory instead.
    const withoutPlan = await refused();
    expect(withoutPlan.hint).toContain(`octoha resume --state-dir ${t.dir} --run ${stale.id}\n`);
    expect(withoutPlan.hint).not.toContain("PLAN");
  });

  it("a lock whose heartbeat is too old is stale even when its host is another machine", async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    writeLock(t.dir, { host: "OCTO-OTHER", heartbeat: new Date(Date.now() - 3_600_000).toISOString() });
    const err = await acquireLock({ stateDir: t.dir, runId: "x", operation: "run", version: "0" }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "STATE_LOCK_STALE" });
    expect((err as { hint: string }).hint).toMatch(/heartbeat is 3600 s old/);
  });

  it("unlock refuses a different id and a live holder unless forced", async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const live = writeLock(t.dir, {});
    await expect(unlock(t.dir, "not-the-id")).rejects.toMatchObject({ code: "LOCK_ID_MISMATCH" });
    await expect(unlock(t.dir, live.id)).rejects.toMatchObject({ code: "LOCK_HELD_LIVE" });
    expect(existsSync(lockFile(t.dir))).toBe(true);
    await unlock(t.dir, live.id, true);
    expect(existsSync(lockFile(t.dir))).toBe(false);
  });

  it("a run whose lock another process took meanwhile stops at its next record (exit 3, LOCK_LOST), writing nothing more to the journal and leaving that lock alone", async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const g = gatedStep();
    const first = runSteps({ ...base(), stateDir: t.dir, steps: [g.step], view: new RecordingView() }).catch((e: unknown) => e);
    await g.started;
    const runId = (await readLock(t.dir))!.id;
    // The records of the step's start (its snapshot) may still be landing: take the journal once it is still.
    let before = readFileSync(journalFile(t.dir, runId));
    for (let still = 0; still < 3;) {
      await new Promise((r) => setTimeout(r, 20));
      const now = readFileSync(journalFile(t.dir, runId));
      still = now.equals(before) ? still + 1 : 0;
      before = now;
    }
    // `unlock --force`, then a resume elsewhere took the lock: the journal is that process's now.
    const other = writeLock(t.dir, { id: runId, pid: deadPid(), operation: "resume" });
    g.release();
    const err = await first;
    expect(err).toMatchObject({ code: "LOCK_LOST", exitCode: 3 });
    expect((err as Error).message).toContain(`its lock on ${t.dir} was released while it ran`);
    expect((err as { hint: string }).hint).toContain(`octoha resume --state-dir ${t.dir} --run ${runId}`);
    expect(readFileSync(journalFile(t.dir, runId))).toEqual(before);
    expect(await readLock(t.dir)).toEqual(other);
  });

  it("a forced unlock of a holder still running here is recorded: resume and rollback refuse while it runs, naming its pid; once it is gone they go on", async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const steps = [gatedStep().step];
    steps[0]!.apply = () => Promise.resolve({});
    const done = await runSteps({ ...base(), stateDir: t.dir, steps, view: new RecordingView() });
    // This process stands for the run's own, still running: its lock is forced away.
    const live = writeLock(t.dir, { id: done.runId });
    expect(await unlock(t.dir, live.id, true)).toMatchObject({ wasStale: false, holderRunningHere: true });
    for (const mode of ["resume", "rollback"] as const) {
      const refused = await runSteps({ ...base(), mode, runId: done.runId, stateDir: t.dir, steps, view: new RecordingView() }).catch(
        (e: unknown) => e,
      );
      expect(refused).toMatchObject({ code: "RUN_STILL_RUNNING", exitCode: 1 });
      expect((refused as Error).message).toContain(`is still running as process ${process.pid} on ${os.hostname()}`);
      expect((refused as { hint: string }).hint).toContain(`kill -INT ${process.pid}`);
      expect(existsSync(lockFile(t.dir)), "a refused run keeps no lock").toBe(false);
    }
    // The same record, once that process has exited: the resume goes on and the record goes.
    const forced = path.join(t.dir, "lock.forced.json");
    writeFileSync(forced, JSON.stringify({ ...live, pid: deadPid() }));
    const resumed = await runSteps({ ...base(), mode: "resume", runId: done.runId, stateDir: t.dir, steps, view: new RecordingView() });
    expect(resumed.exitCode).toBe(0);
    expect(existsSync(forced)).toBe(false);
  });

  it("the holder refreshes its heartbeat while it runs", async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const held = await acquireLock({ stateDir: path.join(t.dir, "s"), runId: "r1", operation: "run", version: "0", heartbeatMs: 20 });
    const first = (await readLock(path.join(t.dir, "s")))!.heartbeat;
    let later = first;
    for (let i = 0; i < 100 && later === first; i++) {
      await new Promise((r) => setTimeout(r, 20));
      later = (await readLock(path.join(t.dir, "s")))?.heartbeat ?? first;
    }
    expect(Date.parse(later)).toBeGreaterThan(Date.parse(first));
    await held.release();
  });
});

describe("taking over a dead run's lock", () => {
  it("resume of the same run takes over a lock whose process is dead, with a warning; two at once never both win", async () => {
    // Several rounds: the races between the three takers land differently each time.
    for (let round = 0; round < 10; round++) {
      const t = tempDir();
      cleanups.push(t.cleanup);
      const dead = writeLock(t.dir, { pid: deadPid(), id: "run-1" });
      const warnings: string[] = [];
      const attempts = await Promise.allSettled(
        [1, 2, 3].map(() =>
          acquireLock({
            stateDir: t.dir,
            runId: dead.id,
            operation: "resume",
            version: "0",
            takeOverDeadHolderOf: dead.id,
            onWarning: (m) => warnings.push(m),
          }),
        ),
      );
      const won = attempts.filter((a) => a.status === "fulfilled");
      expect(won, `round ${round}`).toHaveLength(1);
      expect(attempts.filter((a) => a.status === "rejected").every((a) => (a as PromiseRejectedResult).reason instanceof Error)).toBe(true);
      expect(warnings, `round ${round}`).toEqual([expect.stringContaining(`Took over the lock of run run-1: process ${dead.pid}`)]);
      expect((await readLock(t.dir))?.pid).toBe(process.pid);
      await (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof acquireLock>>>).value.release();
      expect(existsSync(lockFile(t.dir))).toBe(false);
    }
  });

  it("a new run does not take over a dead run's lock", async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const dead = writeLock(t.dir, { pid: deadPid(), id: "run-1" });
    await expect(
      acquireLock({ stateDir: t.dir, runId: "run-2", operation: "run", version: "0", takeOverDeadHolderOf: "run-2" }),
    ).rejects.toMatchObject({ code: "STATE_LOCK_STALE" });
    expect((await readLock(t.dir))?.pid).toBe(dead.pid);
  });
});

describe("a holder alive on this host whose heartbeat stopped (suspended with Ctrl-Z)", () => {
  const hourAgo = () => new Date(Date.now() - 3_600_000).toISOString();

  it("a lock records this host's boot time", async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const held = await acquireLock({ stateDir: t.dir, runId: "r1", operation: "run", version: "0" });
    // Wall clock less uptime, to the second: two readings may round a second apart.
    expect(Math.abs(Date.parse((await readLock(t.dir))!.boot!) - Date.parse(hostBootTime()))).toBeLessThanOrEqual(1000);
    await held.release();
  });

  it("is not stale: unlock refuses it without --force, saying it is alive here; a forced unlock records it as still running", async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const live = writeLock(t.dir, { boot: hostBootTime(), heartbeat: hourAgo() });
    expect(staleness(live)).toEqual({ stale: false });
    const refused = await unlock(t.dir, live.id).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: "LOCK_HELD_LIVE" });
    expect((refused as Error).message).toContain(`its process ${process.pid} is alive on this host (perhaps suspended)`);
    expect((refused as { hint: string }).hint).toContain("has not refreshed the lock for 3600 s");
    expect(existsSync(lockFile(t.dir))).toBe(true);
    expect(await unlock(t.dir, live.id, true)).toMatchObject({ wasStale: false, holderRunningHere: true });
    expect(existsSync(path.join(t.dir, "lock.forced.json"))).toBe(true);
  });

  it("a lock an older octoha wrote (no boot time) keeps the heartbeat rule: its pid may be another program's after a restart", async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const old = writeLock(t.dir, { heartbeat: hourAgo() });
    expect(staleness(old)).toMatchObject({ stale: true, reason: expect.stringContaining("heartbeat is 3600 s old") });
    expect(await unlock(t.dir, old.id)).toMatchObject({ wasStale: true });
  });

  it("a lock taken before this host restarted is gone although its pid runs again: stale, and its own resume takes it over", async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const booted = Date.parse(hostBootTime());
    const before = writeLock(t.dir, {
      id: "run-1",
      boot: new Date(booted - 86_400_000).toISOString(),
      heartbeat: new Date(booted - 3_600_000).toISOString(),
    });
    expect(staleness(before)).toMatchObject({ stale: true, reason: expect.stringContaining("has restarted since process") });
    const warnings: string[] = [];
    const held = await acquireLock({
      stateDir: t.dir,
      runId: before.id,
      operation: "resume",
      version: "0",
      takeOverDeadHolderOf: before.id,
      onWarning: (m) => warnings.push(m),
    });
    expect(warnings).toEqual([expect.stringContaining("Took over the lock of run run-1")]);
    await held.release();
  });
});

describe("a state directory octoha cannot write", () => {
  it("is refused in the Octopus docs' words, naming the folder and why (read-only mount, no rights), not as an internal error", async () => {
    for (const [code, why] of [
      ["EROFS", "on a read-only file system"],
      ["EACCES", "read-only, or not writable for this account"],
      ["EPERM", "read-only, or not writable for this account"],
    ] as const) {
      const { dir: root, cleanup } = tempDir();
      cleanups.push(cleanup);
      const stateDir = path.join(root, "state");
      const original = fsp.mkdir;
      // As a read-only mount answers: the lock's folder cannot be made.
      (fsp as { mkdir: unknown }).mkdir = (p: string, o?: unknown) =>
        path.resolve(p) === stateDir
          ? Promise.reject(Object.assign(new Error(`${code}: simulated, mkdir '${p}'`), { code, syscall: "mkdir", path: p }))
          : original(p, o as Parameters<typeof fsp.mkdir>[1]);
      syncBuiltinESMExports();
      try {
        const error = (await acquireLock({ stateDir, runId: "r1", operation: "run", version: "0.1.0" }).catch(
          (e: unknown) => e,
        )) as OctohaError;
        expect(error).toBeInstanceOf(OctohaError);
        expect(error.code).toBe("STATE_DIR_NOT_WRITABLE");
        expect(error.describe()).toContain(`Access to the path '${stateDir}' is denied: it is ${why}`);
        expect(error.describe()).toContain("--state-dir");
        expect(existsSync(stateDir)).toBe(false);
      } finally {
        (fsp as { mkdir: unknown }).mkdir = original;
        syncBuiltinESMExports();
      }
    }
  });
});
