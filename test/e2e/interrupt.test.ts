/**
 * Ctrl-C while Octopus or SQL Server does not answer: octoha must not wait for the request's
 * timeout and every retry. The request in flight is abandoned, the journal is flushed, the lock
 * released, and octoha exits 3 with the resume command within seconds; resume then finishes once
 * the server answers again.
 *
 * The interrupted runs are children (a real SIGINT); the resumes after them run in this process
 * (octohaInProcess). Nodes start in 300 ms instead of the stand-in's 2 s.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { indexSteps, readJournal } from "../../src/runner/journal.js";
import { lockFile } from "../../src/runner/lock.js";
import type { RunOutcome } from "../../src/model/run.js";
import { CLI } from "../helpers/cli.js";
import { readJsonStdout } from "../helpers/envelope.js";
import { describeChild, octohaInProcess, startCase, type E2eCase } from "./crash-harness.js";
import { until } from "./harness.js";

/** Generous for a loaded 2-core CI machine; the goal is under 2 s. */
const STOP_BOUND_MS = 5_000;
/** How long the stand-in sits on a request: longer than the bound, shorter than a test. */
const HANG_MS = 30_000;
const STARTUP_MS = 300;

const opened: E2eCase[] = [];
// Not afterEach: the tests run concurrently.
afterAll(async () => {
  await Promise.all(opened.splice(0).map((c) => c.close()));
});

interface Interrupted {
  code: number | null;
  stopMs: number;
  outcome: RunOutcome | undefined;
  stderr: string;
}

/** `octoha repair PLAN --yes --json` (or `args`); once `ready()` holds, SIGINT, and time how long it takes to exit. */
function repairThenInterrupt(c: E2eCase, ready: () => boolean, args = ["repair", c.planFile, "--yes", "--json"]): Promise<Interrupted> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: c.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let sentAt = 0;
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const kill = setTimeout(() => child.kill("SIGKILL"), 90_000);
    until("the run to reach the unanswered request", ready, 60_000).then(
      () => {
        sentAt = Date.now();
        child.kill("SIGINT");
      },
      (error: unknown) => {
        child.kill("SIGKILL");
        reject(error);
      },
    );
    child.on("close", (code) => {
      clearTimeout(kill);
      const outcome = readJsonStdout(stdout, args[0]!, code).result as RunOutcome | undefined;
      resolve({ code, stopMs: Date.now() - sentAt, outcome, stderr });
    });
  });
}

async function stepRecords(c: E2eCase, runId: string) {
  return indexSteps((await readJournal(c.stateDir, runId)).records);
}

// Concurrent: every test has its own stand-in, folders and secret variable names.
describe.concurrent("Ctrl-C while Octopus or SQL Server does not answer", { timeout: 150_000 }, () => {
  it("the API hangs mid-drain: exit 3 within seconds, the journal says drain-nodes is in flight, resume finishes once the API answers", async () => {
    const c = await startCase({ tasksPerNode: 2, startupMs: STARTUP_MS });
    opened.push(c);
    const { cluster, http } = c.standin;
    // The moment OCTO1 is drained, the API stops answering: the drain of OCTO2 is the request in flight.
    let armedAt = 0;
    cluster.onChange(() => {
      if (armedAt || !cluster.nodes().some((n) => n.isDraining)) return;
      armedAt = Date.now();
      http.setFaults("lb", { latencyMs: HANG_MS });
    });
    const r = await repairThenInterrupt(c, () => armedAt > 0 && Date.now() - armedAt > 1_000);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stopMs, `exited ${r.stopMs} ms after SIGINT`).toBeLessThan(STOP_BOUND_MS);
    expect(r.outcome).toMatchObject({ status: "interrupted", exitCode: 3 });
    expect(r.outcome?.nextCommand).toMatch(/^octoha resume /);
    const steps = await stepRecords(c, r.outcome!.runId);
    expect(steps.get("drain-nodes")?.checkpoints).toBeGreaterThan(0);
    expect(steps.get("drain-nodes")?.applied).toBeFalsy();
    expect(existsSync(lockFile(c.stateDir)), "the lock was not released").toBe(false);
    // The abandoned request changed nothing: OCTO2 was never drained.
    expect(cluster.nodes().map((n) => [n.name, n.isDraining])).toEqual([
      ["OCTO1", true],
      ["OCTO2", false],
    ]);

    http.setFaults("lb", {});
    const resumed = await octohaInProcess(c, "resume");
    expect(resumed.code, describeChild(resumed)).toBe(0);
    expect(cluster.nodes().map((n) => [n.name, n.isDraining])).toEqual([
      ["OCTO1", false],
      ["OCTO2", false],
    ]);
  });

  it("SQL Server hangs on the task inventory: exit 3 within seconds, the step in flight is journaled, resume finishes once SQL answers", async () => {
    const c = await startCase({ tasksPerNode: 2, startupMs: STARTUP_MS });
    opened.push(c);
    const { cluster } = c.standin;
    // Once every node is stopped, the next SQL request is the task inventory the copy needs.
    let receivedWhenArmed: number | undefined;
    cluster.onChange(() => {
      if (receivedWhenArmed !== undefined || cluster.nodes().some((n) => n.running)) return;
      receivedWhenArmed = c.standin.sqlRequestsReceived!();
      c.standin.setSqlFaults!({ latencyMs: HANG_MS });
    });
    const r = await repairThenInterrupt(c, () => receivedWhenArmed !== undefined && c.standin.sqlRequestsReceived!() > receivedWhenArmed);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stopMs, `exited ${r.stopMs} ms after SIGINT`).toBeLessThan(STOP_BOUND_MS);
    expect(r.outcome).toMatchObject({ status: "interrupted", exitCode: 3 });
    const steps = await stepRecords(c, r.outcome!.runId);
    expect(steps.get("stop-services")?.applied).toBe(true);
    expect(steps.get("copy-task-logs")?.applied).toBeFalsy();
    expect(existsSync(lockFile(c.stateDir)), "the lock was not released").toBe(false);

    c.standin.setSqlFaults!({});
    const resumed = await octohaInProcess(c, "resume");
    expect(resumed.code, describeChild(resumed)).toBe(0);
    expect(cluster.nodes().every((n) => n.running && !n.isDraining)).toBe(true);
  });

  it("SQL Server hangs during a dry-run: exit 3 within seconds, and no report of half-read findings is written", async () => {
    const c = await startCase({ tasksPerNode: 2, startupMs: STARTUP_MS });
    opened.push(c);
    const before = c.standin.sqlRequestsReceived!();
    c.standin.setSqlFaults!({ latencyMs: HANG_MS });
    const report = path.join(c.dir, "dry-run.md");
    const r = await repairThenInterrupt(c, () => c.standin.sqlRequestsReceived!() > before, [
      "dry-run",
      c.planFile,
      "--workflow",
      "repair",
      "--out",
      report,
    ]);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stopMs, `exited ${r.stopMs} ms after SIGINT`).toBeLessThan(STOP_BOUND_MS);
    expect(r.stderr).toMatch(/interrupted/);
    expect(existsSync(report)).toBe(false);
    expect(existsSync(c.stateDir)).toBe(false);
  });
});
