import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { lockFile, readLock } from "../../src/runner/lock.js";
import { journalFile } from "../../src/runner/journal.js";
import { runWorkflow } from "../../src/operations/apply.js";
import { cliFixture as fixture, octoha, printedCommand, start, waitForFile } from "./cli-fixture.js";
import { resultOf } from "../helpers/envelope.js";

describe("octoha run / resume / status / unlock", () => {
  it("an approval gate without a terminal stops with exit 3 and prints the exact command; that command finishes the run", async () => {
    const f = fixture();
    const env = { ...f.env, GATE: "1" };
    const first = await octoha(["run", f.plan], env);
    expect(first.code).toBe(3);
    const resume = printedCommand(first.stderr, "resume");
    expect(resume).toEqual(["resume", f.plan, "--run", expect.stringMatching(/^\d{8}T\d{6}Z-[0-9a-f]{4}$/), "--yes"]);
    expect(f.lines()).toHaveLength(1);
    const second = await octoha(resume, env);
    expect(second.code, second.stderr).toBe(0);
    expect(f.lines()).toHaveLength(3);
  });

  it("with --yes an approval gate passes and the run is done", async () => {
    const f = fixture();
    const r = await octoha(["run", f.plan, "--yes"], { ...f.env, GATE: "1" });
    expect(r.code, r.stderr).toBe(0);
    expect(f.lines()).toHaveLength(3);
    const status = await octoha(["status", f.plan, "--json"], f.env);
    expect(status.code).toBe(0);
    const report = resultOf<{ outcome: { status: string }; steps: { state: string }[] }>(status.stdout, "status", 0);
    expect(report.outcome.status).toBe("done");
    expect(report.steps.map((s) => s.state)).toEqual(["verified", "verified", "verified"]);
  });

  it("SIGINT mid-step exits 3 with the resume command; a second run meanwhile is refused naming the holder; resume completes", async () => {
    const f = fixture();
    const env = { ...f.env, BLOCK: "1" };
    const running = start(["run", f.plan, "--yes"], env);
    await waitForFile(env.READY);
    const holder = await readLock(f.stateDir);
    const second = await octoha(["run", f.plan, "--yes"], env);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`is locked by run ${holder!.id} (run)`);
    expect(second.stderr).toContain(`pid ${running.child.pid}`);
    running.child.kill("SIGINT");
    const stopped = await running.done;
    expect(stopped.code, stopped.stderr).toBe(3);
    expect(existsSync(lockFile(f.stateDir))).toBe(false);
    const resume = printedCommand(stopped.stderr, "resume");
    expect(resume).toEqual(["resume", f.plan, "--run", holder!.id]);
    const finished = await octoha(resume, env);
    expect(finished.code, finished.stderr).toBe(0);
    expect(f.lines().sort()).toEqual([`${holder!.id}:step-1`, `${holder!.id}:step-2`, `${holder!.id}:step-3`]);
  });

  it("unlock ID releases a stale lock left by a killed run, and resume without a plan finds the run in --state-dir", async () => {
    const f = fixture();
    const env = { ...f.env, BLOCK: "1" };
    const running = start(["run", f.plan, "--yes"], env);
    await waitForFile(env.READY);
    running.child.kill("SIGKILL");
    await running.done;
    const holder = (await readLock(f.stateDir))!;
    const refused = await octoha(["run", f.plan, "--yes"], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`octoha unlock ${holder.id} --state-dir "${f.stateDir}"`);
    const unlocked = await octoha(["unlock", holder.id, "--state-dir", f.stateDir], env);
    expect(unlocked.code, unlocked.stderr).toBe(0);
    expect(existsSync(lockFile(f.stateDir))).toBe(false);
    const resumed = await octoha(["resume", "--state-dir", f.stateDir, "--yes"], { ...env, BLOCK: "" });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(f.lines()).toHaveLength(3);
  });

  it("unlock --force on a live run warns that its process still runs and advises no resume; resume refuses while it runs; the run then stops by itself (exit 3) without touching its journal, and resume finishes", async () => {
    const f = fixture();
    const env = { ...f.env, BLOCK: "1" };
    const running = start(["run", f.plan, "--yes"], env);
    await waitForFile(env.READY);
    const readyAt = Date.now();
    const holder = (await readLock(f.stateDir))!;
    const pid = running.child.pid!;
    const journal = journalFile(f.stateDir, holder.id);
    // The blocked step's start is journaled beside its READY file, not before it: wait for that record.
    for (let tries = 0; !readFileSync(journal, "utf8").includes('"current":{"stepId":"step-2"') && tries < 200; tries++)
      await new Promise((resolve) => setTimeout(resolve, 25));
    const before = readFileSync(journal);
    // Frozen, so it cannot notice before the resume below tries (it notices at its next heartbeat).
    running.child.kill("SIGSTOP");
    try {
      const unlocked = await octoha(["unlock", holder.id, "--state-dir", f.stateDir, "--force"], env);
      expect(unlocked.code, unlocked.stderr).toBe(0);
      expect(unlocked.stderr).toContain(`WARNING: process ${pid} of run ${holder.id} (run) is STILL RUNNING on this host`);
      expect(unlocked.stdout).toContain("(forced)");
      expect(unlocked.stdout + unlocked.stderr).not.toContain("Resume that run");
      const refused = await octoha(["resume", f.plan, "--yes"], { ...env, BLOCK: "" });
      expect(refused.code, refused.stderr).toBe(1);
      expect(refused.stderr).toContain(`is still running as process ${pid}`);
      expect(readFileSync(journal)).toEqual(before);
    } finally {
      running.child.kill("SIGCONT");
    }
    const stopped = await running.done;
    // Its heartbeat (every 10 s) noticed and aborted the step, which would otherwise wait 30 s for a Ctrl-C.
    expect(Date.now() - readyAt).toBeLessThan(25_000);
    expect(stopped.code, stopped.stderr).toBe(3);
    expect(stopped.stderr).toContain(`Run ${holder.id} stopped: its lock on ${f.stateDir} was released while it ran`);
    expect(readFileSync(journal)).toEqual(before);
    const resumed = await octoha(["resume", f.plan, "--yes"], { ...env, BLOCK: "" });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(f.lines()).toHaveLength(3);
  });

  it("a run suspended with Ctrl-Z keeps its lock however old its heartbeat: unlock without --force and a second run are refused, saying it is alive here; resumed, it carries on", async () => {
    const f = fixture();
    const env = { ...f.env, BLOCK: "1" };
    const running = start(["run", f.plan, "--yes"], env);
    await waitForFile(env.READY);
    const holder = (await readLock(f.stateDir))!;
    const pid = running.child.pid!;
    running.child.kill("SIGSTOP");
    try {
      // Three minutes of suspension, as the lock file then reads (a suspended process writes nothing).
      const lock = lockFile(f.stateDir);
      const info = JSON.parse(readFileSync(lock, "utf8")) as { heartbeat: string };
      writeFileSync(lock, JSON.stringify({ ...info, heartbeat: new Date(Date.now() - 180_000).toISOString() }));
      const unlocked = await octoha(["unlock", holder.id, "--state-dir", f.stateDir], env);
      expect(unlocked.code, unlocked.stdout).toBe(1);
      expect(unlocked.stderr).toContain(
        `Run ${holder.id} still holds the lock: its process ${pid} is alive on this host (perhaps suspended)`,
      );
      expect(unlocked.stderr).toContain("Bring it back with `fg` in its terminal");
      expect(unlocked.stderr).toContain("add --force");
      expect(existsSync(lock)).toBe(true);
      const second = await octoha(["run", f.plan, "--yes"], { ...env, BLOCK: "" });
      expect(second.code).toBe(1);
      expect(second.stderr).toContain(`is locked by run ${holder.id} (run)`);
      expect(second.stderr).toContain(`octoha unlock ${holder.id} --state-dir "${f.stateDir}" --force`);
      expect(f.lines()).toHaveLength(1);
    } finally {
      running.child.kill("SIGCONT");
    }
    running.child.kill("SIGINT");
    const stopped = await running.done;
    expect(stopped.code, stopped.stderr).toBe(3);
    const resumed = await octoha(["resume", f.plan, "--yes"], f.env);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(f.lines()).toHaveLength(3);
  });

  it("run says clearly that a workflow is missing and exits 1 when none is registered", async () => {
    const f = fixture();
    const err = await runWorkflow({
      workflows: {},
      workflow: "preseed",
      planFile: f.plan,
      flags: {},
      approve: "yes",
      json: false,
      signal: new AbortController().signal,
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "WORKFLOW_NOT_REGISTERED", exitCode: 1 });
    expect((err as Error).message).toContain('no "preseed" workflow registered');
    expect(existsSync(f.stateDir)).toBe(false);
  });
});

describe("octoha rollback when a step cannot be undone", () => {
  it("a refusal check that throws stops the rollback before anything is undone, naming the step and the error; the printed rollback works once the cause is gone", async () => {
    const f = fixture();
    const run = await octoha(["run", f.plan, "--yes"], f.env);
    expect(run.code, run.stderr).toBe(0);
    const applied = f.lines();
    const runId = applied[0]!.split(":")[0]!;
    const failed = await octoha(["rollback", f.plan, "--yes"], { ...f.env, PROBE_THROWS: "step-2" });
    expect(failed.code, failed.stderr).toBe(1);
    expect(f.lines(), "a step was undone although the check before the rollback failed").toEqual(applied);
    expect(failed.stderr).toContain("Could not check whether step step-2 can still be undone: service probe: connection reset by OCTO1");
    expect(failed.stderr).toContain("Nothing was undone");
    const again = printedCommand(failed.stderr, "rollback");
    expect(again).toEqual(["rollback", f.plan, "--run", runId, "--yes"]);
    const done = await octoha(again, f.env);
    expect(done.code, done.stderr).toBe(4);
    expect(f.lines()).toEqual([`undo:${runId}:step-3`, `undo:${runId}:step-2`, `undo:${runId}:step-1`]);
  });

  it("a refused rollback prints resume (which finishes the run) and rollback --to the next step (which undoes only the later steps), not the rollback that refuses again", async () => {
    const f = fixture();
    const env = { ...f.env, REFUSE: "step-2" };
    expect((await octoha(["run", f.plan, "--yes"], env)).code).toBe(0);
    const applied = f.lines();
    const runId = applied[0]!.split(":")[0]!;
    const refused = await octoha(["rollback", f.plan, "--yes"], env);
    expect(refused.code).toBe(1);
    expect(f.lines()).toEqual(applied);
    expect(refused.stderr).toContain("Step step-2 refused to roll back: nodes started on the new folders");
    const resume = printedCommand(refused.stderr, "resume");
    expect(resume).toEqual(["resume", f.plan, "--run", runId]);
    const partial = printedCommand(refused.stderr, "rollback");
    expect(partial).toEqual(["rollback", f.plan, "--run", runId, "--to", "step-3", "--yes"]);

    // resume: the run's changes stay and the run is done again, so a new run may start.
    const resumed = await octoha(resume, env);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(f.lines()).toEqual(applied);
    const status = resultOf<{ outcome: { status: string } }>((await octoha(["status", f.plan, "--json"], env)).stdout, "status", 0);
    expect(status.outcome.status).toBe("done");

    // rollback --to step-3: only the step after the refusing one is undone.
    const undone = await octoha(partial, env);
    expect(undone.code, undone.stderr).toBe(4);
    expect(f.lines()).toEqual([`${runId}:step-1`, `${runId}:step-2`, `undo:${runId}:step-3`]);
  });
});
