import { readFile, rm } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { OctohaError } from "../../src/shared/errors.js";
import { buildTaskLogOwner, taskNumberOf } from "../../src/steps/task-log-owner.js";
import { packageStem } from "../../src/steps/verify-copy.js";
import { clusterFixture, type ClusterFixture } from "./fixture.js";
import { createFileCopyEngine, recordingContext } from "./helpers.js";
import type { CopyEngine } from "../../src/steps/deps.js";

let fx: ClusterFixture | undefined;
afterEach(async () => {
  await fx?.cleanup();
  fx = undefined;
});

describe("copy steps", () => {
  it("applying a copy twice copies each file once, and verify proves the target holds every source file", async () => {
    fx = await clusterFixture();
    const copy = fx.steps("repair").find((s) => s.id === "copy-packages")!;
    const ctx = recordingContext("copy-packages");
    const first = (await copy.apply(ctx, undefined)) as { jobs: { filesCopied: number }[] };
    const second = (await copy.apply(recordingContext("copy-packages"), undefined)) as {
      jobs: { filesCopied: number; filesSkipped: number }[];
    };
    expect(first.jobs.map((j) => j.filesCopied)).toEqual([1, 1]);
    expect(second.jobs.map((j) => j.filesCopied)).toEqual([0, 0]);
    expect(second.jobs.map((j) => j.filesSkipped)).toEqual([1, 1]);
    expect((await copy.verify(ctx, first)).ok).toBe(true);
    // One before the first byte (rollback then knows the step touched the shares), one after each
    // node: a resume skips the nodes already done.
    expect(ctx.checkpoints).toHaveLength(3);
    expect(ctx.checkpoints[0]).toEqual({ jobs: [] });
  });

  it("a resume skips nodes whose copy finished before the crash", async () => {
    fx = await clusterFixture();
    const copy = fx.steps("repair").find((s) => s.id === "copy-task-logs")!;
    const done = {
      jobs: [
        {
          kind: "taskLogs",
          node: "OCTO1",
          filesCopied: 3,
          bytesCopied: 1,
          filesSkipped: 0,
          bytesSkipped: 0,
          collisions: [],
          nameProblems: [],
          errors: [],
        },
      ],
    };
    await copy.apply(recordingContext("copy-task-logs"), done);
    expect(fx.engine.runs.map((r) => r.sourceNode)).toEqual(["OCTO2"]);
  });

  it("copy never touches Octopus and leaves the sources in place", async () => {
    fx = await clusterFixture();
    for (const s of fx.steps("repair").filter((x) => x.id.startsWith("copy-"))) await s.apply(recordingContext(s.id), undefined);
    expect(fx.cluster.writes()).toEqual([]);
    expect(await readFile(path.join(fx.root, "OCTO1/TaskLogs/servertasks-1_AAAAAAAAAA.txt"), "utf8")).toBe("log of task 1 from OCTO1");
  });
});

describe("a log written to while a copy reads it (a running deployment)", () => {
  /** The real file copy, except that OCTO1's busy task log changes under each copy that writes. */
  function busyLogEngine(): CopyEngine {
    const real = createFileCopyEngine();
    return {
      ...real,
      copyTree: async (o) => {
        const s = await real.copyTree(o);
        if (o.dryRun || o.sourceNode !== "OCTO1" || !o.source.endsWith("TaskLogs")) return s;
        const busy = "servertasks-1_AAAAAAAAAA.txt";
        const message = `The source file '${path.join(o.source, busy)}' changed while it was copied (24 bytes when opened, 40 read)\n  Something is still writing it.`;
        return { ...s, errors: [...s.errors, { relPath: busy, code: "COPY_SOURCE_CHANGING", message }] };
      },
    };
  }

  it("the preseed (Octopus live) warns and leaves it to the window's copy instead of failing; the window's copy step still fails on it", async () => {
    fx = await clusterFixture({ engine: busyLogEngine() });
    const preseed = fx.steps("preseed").find((s) => s.id === "preseed")!;
    const ctx = recordingContext("preseed");
    await expect(preseed.apply(ctx, undefined)).resolves.toBeDefined();
    expect(ctx.events.filter((e) => e.level === "warn").map((e) => e.message)).toContainEqual(
      "taskLogs from OCTO1: servertasks-1_AAAAAAAAAA.txt was being written while the preseed copied it (Octopus is live): left for the window's copy, which moves it with the nodes stopped",
    );

    const copy = fx.steps("repair").find((s) => s.id === "copy-task-logs")!;
    await expect(copy.apply(recordingContext("copy-task-logs"), undefined)).rejects.toMatchObject({
      code: "COPY_INCOMPLETE",
      message: "1 file could not be copied",
    });
  });
});

describe("SQL connection dropped mid-inventory", () => {
  it("fails the task-log copy as retryable, and the retry reads the inventory again and copies", async () => {
    fx = await clusterFixture({ knobs: { sqlDropsRemaining: 1 } });
    const copy = fx.steps("repair").find((s) => s.id === "copy-task-logs")!;
    await expect(copy.apply(recordingContext("copy-task-logs"), undefined)).rejects.toMatchObject({
      code: "SQL_CONNECTION_LOST",
      behaviour: "retryable",
    });
    const r = (await copy.apply(recordingContext("copy-task-logs"), undefined)) as {
      jobs: { node: string; collisions: { winner: string }[] }[];
    };
    expect(r.jobs.map((j) => j.node)).toEqual(["OCTO1", "OCTO2"]);
    expect(await readFile(path.join(fx.root, "shared/TaskLogs/servertasks-3_CCCCCCCCCC.txt"), "utf8")).toBe("log of task 3 from OCTO1");
  });
});

describe("verify-copy", () => {
  it("fails naming a task whose log is on a node but was not copied to shared storage", async () => {
    fx = await clusterFixture();
    const steps = fx.steps("repair");
    for (const s of steps.filter((x) => x.id.startsWith("copy-"))) await s.apply(recordingContext(s.id), undefined);
    await rm(path.join(fx.root, "shared/TaskLogs/servertasks-2_BBBBBBBBBB"), { recursive: true });
    const verify = steps.find((s) => s.id === "verify-copy")!;
    const error = await verify.apply(recordingContext("verify-copy"), undefined).catch((e: unknown) => e as OctohaError);
    expect((error as OctohaError).code).toBe("VERIFY_COPY_FAILED");
    expect((error as OctohaError).hint).toContain("ServerTasks-2");
  });
});

describe("task log owner", () => {
  it("maps servertasks-<n>_ files and per-task folders to the node that ran the task, whether the DB holds a name or an id", async () => {
    fx = await clusterFixture();
    const { owner } = await buildTaskLogOwner(fx.cluster.ports.inventory);
    expect(owner("servertasks-1_AAAAAAAAAA.txt")).toBe("OCTO1");
    expect(owner("ServerTasks-2_BBBBBBBBBB/part1.tl.txt")).toBe("OCTO2");
    expect(owner("servertasks-3_CCCCCCCCCC.txt")).toBe("OCTO1");
    expect(owner("scheduledtasks_processsubscriptions.txt")).toBeUndefined();
    expect(taskNumberOf("servertasks-12x_A.txt")).toBeUndefined();
  });

  it("recognises package files by id and version, not by a prefix of another version", () => {
    expect(packageStem("Acme.1.4.0.zip")).toBe("acme.1.4.0");
    expect(packageStem("Acme.1.4.0.1.tar.gz")).toBe("acme.1.4.0.1");
    expect(packageStem("readme.txt")).toBeUndefined();
  });
});
