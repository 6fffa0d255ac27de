/**
 * The likeliest 2 a.m. interruptions are not Ctrl-C: an SSH session that drops (SIGHUP, often twice:
 * the shell forwards it, the kernel sends it again when the shell exits) and output piped into a
 * pager that is quit (`| less`, `| head`: stdout closes, every later write fails with EPIPE). A
 * hang-up stops the run like Ctrl-C (checkpoint, lock released, exit 3, the resume command on
 * stderr); a closed stdout does not stop it at all: the run finishes and the cluster is back in service.
 *
 * The runs are children (real signals, a real closed pipe); the resume runs in this process.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { indexSteps, readJournal } from "../../src/runner/journal.js";
import { lockFile } from "../../src/runner/lock.js";
import { CLI } from "../helpers/cli.js";
import { describeChild, octohaInProcess, startCase, type E2eCase } from "./crash-harness.js";
import { until } from "./harness.js";

const opened: E2eCase[] = [];
afterAll(async () => {
  await Promise.all(opened.splice(0).map((c) => c.close()));
});

interface Exited {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** `octoha repair PLAN --yes` as an operator types it (text output); `during` acts on the child while it runs. */
function repair(c: E2eCase, during: (child: ReturnType<typeof spawn>) => Promise<void>): Promise<Exited> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, "repair", c.planFile, "--yes"], { env: c.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    during(child).catch((error: unknown) => {
      child.kill("SIGKILL");
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

describe.concurrent("the terminal goes away mid-run", { timeout: 180_000 }, () => {
  it("SIGHUP (twice, as a dropped SSH session sends it) during the drain: exit 3, lock released, the resume command on stderr; resume finishes", async () => {
    const c = await startCase({ tasksPerNode: 2 });
    opened.push(c);
    const { cluster } = c.standin;
    // A deployment still running keeps the drain waiting: the run is mid-window when the session drops.
    const task = cluster.queueTask({ description: "Deploy Acme.Web to Production", durationMs: 3_600_000 });
    await until("the task is picked up", () => cluster.task(task.id).state === "Executing");
    const r = await repair(c, async (child) => {
      await until("every node drains", () => cluster.nodes().every((n) => n.isDraining), 60_000);
      child.kill("SIGHUP");
      await new Promise((resolve) => setTimeout(resolve, 100));
      if (child.exitCode === null) child.kill("SIGHUP");
    });
    expect(r.code, `ended by signal ${String(r.signal)}; stderr: ${r.stderr}`).toBe(3);
    expect(r.stderr).toContain("SIGHUP received");
    expect(r.stderr).toMatch(/To continue, run:\n {2}octoha resume /);
    expect(existsSync(lockFile(c.stateDir)), "the lock was not released").toBe(false);
    const runId = /octoha resume .* --run (\S+)/.exec(r.stderr)![1]!;
    const { records } = await readJournal(c.stateDir, runId);
    expect(records.at(-1)).toMatchObject({ t: "outcome", status: "interrupted", exitCode: 3 });
    expect(indexSteps(records).get("drain-nodes")?.applied).toBeFalsy();

    cluster.completeTask(task.id);
    const resumed = await octohaInProcess(c, "resume");
    expect(resumed.code, describeChild(resumed)).toBe(0);
    const after = cluster.state();
    expect(after.isInMaintenanceMode).toBe(false);
    expect(after.nodes.map((n) => [n.name, n.running, n.isDraining])).toEqual([
      ["OCTO1", true, false],
      ["OCTO2", true, false],
    ]);
  });

  it("stdout closed early (`| head`, a pager quit): the run carries on to the end, exit 0, the cluster back in service", async () => {
    const c = await startCase({ tasksPerNode: 2 });
    opened.push(c);
    const { cluster } = c.standin;
    const r = await repair(c, async (child) => {
      // The reader goes away after the first lines, long before the nodes are stopped.
      await new Promise<void>((resolve) => child.stdout!.once("data", () => resolve()));
      child.stdout!.destroy();
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain("EPIPE");
    expect(existsSync(lockFile(c.stateDir)), "the lock was not released").toBe(false);
    const after = cluster.state();
    expect(after.isInMaintenanceMode).toBe(false);
    expect(after.folders.taskLogs).not.toBe("C:\\Octopus\\TaskLogs");
    expect(after.nodes.map((n) => [n.name, n.running, n.isDraining])).toEqual([
      ["OCTO1", true, false],
      ["OCTO2", true, false],
    ]);
  });
});
