import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Collision } from "../../src/model/copy-results.js";
import { createCopyEngine } from "../../src/steps/ports.js";
import { clusterFixture, type ClusterFixture } from "./fixture.js";
import { recordingContext } from "./helpers.js";

let fx: ClusterFixture | undefined;
afterEach(async () => {
  await fx?.cleanup();
  fx = undefined;
});

interface JobFacts {
  node: string;
  collisions: Collision[];
}

/** What an operator compares between the dry-run and the run: which file, whose copy stays, where the other goes. */
const outcome = (jobs: JobFacts[]) =>
  jobs
    .flatMap((j) =>
      j.collisions.map((c) => ({ node: j.node, relPath: c.relPath, kind: c.kind, winner: c.winner, quarantinedAt: c.quarantinedAt })),
    )
    .sort((a, b) => a.relPath.localeCompare(b.relPath));

describe("dry-run of the task-log copy across nodes (real copy engine)", () => {
  it("lists the scheduled-task log collision between the nodes, with the winner the run then picks", async () => {
    fx = await clusterFixture({ engine: createCopyEngine() });
    const copy = fx.steps("repair").find((s) => s.id === "copy-task-logs")!;
    const ctx = recordingContext("copy-task-logs");
    const inspected = await copy.inspect(ctx);
    // Its planning is told as it goes, node by node; a dry-run's closing rates are not.
    const said = ctx.events.filter((e) => e.level === "progress").map((e) => e.message);
    expect(said.some((m) => /^taskLogs from OCTO1: looking, \d+ files so far, \d+ to copy$/.test(m))).toBe(true);
    expect(said.some((m) => /^taskLogs from OCTO2: looking/.test(m))).toBe(true);
    expect(said.filter((m) => !m.includes("looking"))).toEqual([]);
    const shared = path.join(fx.root, "shared/TaskLogs");
    // The dry-run wrote nothing: the shared folder is not even created.
    expect(existsSync(shared)).toBe(false);

    const scheduler = inspected.findings.find((f) => f.code === "COLLISION" && f.path === "scheduledtasks_processsubscriptions.txt");
    expect(scheduler).toMatchObject({ node: "OCTO2", severity: "warning" });
    expect(scheduler!.summary).toContain("OCTO1's copy stays");
    // Task 3 ran on OCTO1 per the database: OCTO2's stale copy loses.
    expect(inspected.findings.find((f) => f.path === "servertasks-3_CCCCCCCCCC.txt")?.summary).toContain("OCTO1's copy stays");

    const predicted = outcome((inspected.facts as { jobs: JobFacts[] }).jobs);
    const result = await copy.apply(recordingContext("copy-task-logs"), undefined);
    const applied = outcome((result as { jobs: JobFacts[] }).jobs);
    expect(predicted.map((c) => c.relPath)).toEqual(["scheduledtasks_processsubscriptions.txt", "servertasks-3_CCCCCCCCCC.txt"]);
    expect(predicted).toEqual(applied);
    expect(await readFile(path.join(shared, "scheduledtasks_processsubscriptions.txt"), "utf8")).toBe("OCTO1 scheduler");
    expect(await readFile(applied[0]!.quarantinedAt!, "utf8")).toBe("OCTO2 scheduler");
    // Verify's pass says it is checking: its planning would count the quarantined collisions "to copy".
    const checked = recordingContext("copy-task-logs");
    expect((await copy.verify(checked, result)).ok).toBe(true);
    const checking = checked.events.filter((e) => e.level === "progress").map((e) => e.message);
    expect(checking.some((m) => /^taskLogs from OCTO1: checking, \d+ files so far$/.test(m))).toBe(true);
    expect(checking.some((m) => /^taskLogs from OCTO2: checking, \d+ files so far$/.test(m))).toBe(true);
    expect(checking.filter((m) => !m.includes("checking"))).toEqual([]);
  });

  it("keep-newer: the dry-run predicts the newer node's copy wins, as the run then does", async () => {
    fx = await clusterFixture({ engine: createCopyEngine(), planOptions: { collisionPolicy: "keep-newer" } });
    const { utimes } = await import("node:fs/promises");
    await utimes(path.join(fx.root, "OCTO1/TaskLogs/scheduledtasks_processsubscriptions.txt"), 1_700_000_000, 1_700_000_000);
    await utimes(path.join(fx.root, "OCTO2/TaskLogs/scheduledtasks_processsubscriptions.txt"), 1_800_000_000, 1_800_000_000);
    const copy = fx.steps("repair").find((s) => s.id === "copy-task-logs")!;
    const predicted = outcome(((await copy.inspect(recordingContext("copy-task-logs"))).facts as { jobs: JobFacts[] }).jobs);
    const result = await copy.apply(recordingContext("copy-task-logs"), undefined);
    const applied = outcome((result as { jobs: JobFacts[] }).jobs);
    expect(predicted.find((c) => c.relPath.startsWith("scheduledtasks"))).toMatchObject({ node: "OCTO2", winner: "source" });
    expect(predicted).toEqual(applied);
    expect(await readFile(path.join(fx.root, "shared/TaskLogs/scheduledtasks_processsubscriptions.txt"), "utf8")).toBe("OCTO2 scheduler");
  });
});
