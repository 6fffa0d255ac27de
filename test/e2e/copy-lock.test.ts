/**
 * A run's copy step and another writer into the same shared folder (issue 10, item 2): while a
 * copy from elsewhere (another `octoha copy`, or a run with another state directory) holds the
 * folder's lock, the run's copy step is refused naming the holder, nothing of the run is copied
 * there, and `resume` finishes once the other copy is done, with both sets of files intact.
 * The other copy is a child; the run and its resume run in this process (octohaInProcess), with nodes that
 * start in 300 ms rather than the stand-in's 2 s.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CLI } from "../helpers/cli.js";
import { describeChild, hashTree, nodesRoot, octohaInProcess, sharedRoot, startCase, type E2eCase } from "./crash-harness.js";

const opened: E2eCase[] = [];
afterAll(async () => {
  await Promise.all(opened.splice(0).map((c) => c.close()));
});

async function until(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("two writers into one shared folder", () => {
  it("a repair whose copy step meets a folder another copy holds is refused naming it (exit 1), and resume completes once it is done", async () => {
    const c = await startCase({ startupMs: 300 });
    opened.push(c);
    const taskLogs = path.join(sharedRoot(c), "TaskLogs");
    const other = path.join(c.dir, "other-node-logs");
    mkdirSync(other, { recursive: true });
    for (let i = 0; i < 400; i++)
      writeFileSync(path.join(other, `servertasks-9${i}_OTHERNODE1.txt`), `another node's log ${i}\n`.repeat(500));
    const lock = path.join(taskLogs, ".octoha", "copy-lock.json");
    const copy = spawn(process.execPath, [CLI, "copy", other, taskLogs, "--concurrency", "1", "--node", "OCTO9"], { stdio: "ignore" });
    const copyDone = new Promise<number | null>((resolve) => copy.on("exit", (code) => resolve(code)));
    let run;
    try {
      await until("the other copy's lock", () => existsSync(lock) || copy.exitCode !== null);
      copy.kill("SIGSTOP"); // it holds the lock, alive, for as long as the run needs
      run = await octohaInProcess(c, "repair");
    } finally {
      copy.kill("SIGCONT");
    }
    expect(run.code, describeChild(run)).toBe(1);
    const failed = run.events.find((e) => e.type === "step-failed") as
      { stepId?: string; error?: { code: string; message: string; hint?: string } } | undefined;
    expect(failed?.stepId).toBe("copy-task-logs");
    expect(failed?.error?.code).toBe("COPY_TARGET_LOCKED");
    expect(failed?.error?.message).toContain(`pid ${copy.pid}`);
    const holder = JSON.parse(readFileSync(lock, "utf8")) as { id: string };
    expect(failed?.error?.hint).toContain(`octoha unlock ${holder.id} --target`);
    expect(await copyDone).toBe(0);

    const resumed = await octohaInProcess(c, "resume");
    expect(resumed.code, describeChild(resumed)).toBe(0);
    const shared = await hashTree(taskLogs);
    const theirs = await hashTree(other);
    for (const [name, hash] of Object.entries(theirs)) expect(shared[name], name).toBe(hash);
    const nodeLogs = Object.entries(await hashTree(nodesRoot(c))).filter(([p]) => p.includes("/TaskLogs/") && p.includes("servertasks-"));
    expect(nodeLogs.length).toBeGreaterThan(0);
    for (const [p, hash] of nodeLogs) expect(shared[p.slice(p.indexOf("/TaskLogs/") + "/TaskLogs/".length)], p).toBe(hash);
  }, 300_000);
});
