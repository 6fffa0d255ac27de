import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { RollbackRefused } from "../../src/runner/step.js";
import { STEP_IDS } from "../../src/model/step-ids.js";
import { createRepathStep } from "../../src/steps/repath.js";
import { OctohaError } from "../../src/shared/errors.js";
import { clusterFixture, type ClusterFixture } from "./fixture.js";
import { listTree, recordingContext, runAll, writeFiles } from "./helpers.js";
import { VERIFY_LIST_LIMIT } from "../../src/model/copy-results.js";
import { SpreadSampler } from "../../src/steps/verify-octopus.js";
import { afterFailedRun, type AnyStep } from "../../src/steps/workflows.js";

let fx: ClusterFixture | undefined;
afterEach(async () => {
  await fx?.cleanup();
  fx = undefined;
});
const shared = (f: ClusterFixture, rel: string) => path.join(f.root, "shared", rel);

/** The repair's steps, in order, for the fixture's version (task logs, artifacts, packages). */
const REPAIR_STEP_IDS = [
  "preflight",
  "provision-storage",
  "assess-repair",
  "drain-nodes",
  "maintenance-on",
  "stop-services",
  "repath",
  "copy-task-logs",
  "copy-artifacts",
  "copy-packages",
  "verify-copy",
  "start-services",
  "verify-octopus",
  "maintenance-off",
  "undrain",
];

describe("repair workflow", () => {
  it("merges every node's task logs, artifacts and packages into shared storage, task logs by the node that ran the task", async () => {
    fx = await clusterFixture();
    const steps = fx.steps("repair");
    expect(steps.map((s) => s.id)).toEqual(REPAIR_STEP_IDS);
    await runAll(steps, fx.clock);

    expect(await readFile(shared(fx, "TaskLogs/servertasks-1_AAAAAAAAAA.txt"), "utf8")).toBe("log of task 1 from OCTO1");
    expect(await readFile(shared(fx, "TaskLogs/servertasks-2_BBBBBBBBBB/part1.tl.txt"), "utf8")).toBe("log of task 2 from OCTO2");
    // Task 3 ran on OCTO1 (the DB stores its node id, in another case): OCTO1's copy wins, OCTO2's is quarantined.
    expect(await readFile(shared(fx, "TaskLogs/servertasks-3_CCCCCCCCCC.txt"), "utf8")).toBe("log of task 3 from OCTO1");
    expect(await readFile(shared(fx, "TaskLogs/.octoha/conflicts/OCTO2/servertasks-3_CCCCCCCCCC.txt"), "utf8")).toBe("stale copy on OCTO2");
    // Same-named scheduler logs: the first one stays, the other is quarantined, nothing dropped.
    expect(await readFile(shared(fx, "TaskLogs/scheduledtasks_processsubscriptions.txt"), "utf8")).toBe("OCTO1 scheduler");
    expect(await readFile(shared(fx, "TaskLogs/.octoha/conflicts/OCTO2/scheduledtasks_processsubscriptions.txt"), "utf8")).toBe(
      "OCTO2 scheduler",
    );
    expect(await readFile(shared(fx, "Packages/Spaces-1/feeds-builtin/Widget/Widget.2.0.0.nupkg"), "utf8")).toBe("WIDGET-2.0.0");
    // A package file that differs between nodes: the loser goes beside Packages, where the re-index never looks.
    expect(await readFile(shared(fx, ".octoha-conflicts/Packages/OCTO2/Spaces-1/feeds-builtin/Acme/Acme.1.4.0.zip"), "utf8")).toBe(
      "ACME-1.4.0 rebuilt on OCTO2",
    );
    expect(await readFile(shared(fx, "Packages/Spaces-1/feeds-builtin/Acme/Acme.1.4.0.zip"), "utf8")).toBe("ACME-1.4.0");
    expect((await listTree(shared(fx, "Packages"))).some((p) => p.includes(".octoha"))).toBe(false);
    expect(await readFile(shared(fx, "Artifacts/Spaces-1/ServerTasks-1/report.html"), "utf8")).toBe("<p>artifact 1</p>");
    // Sources stay (copy, never move).
    expect(await listTree(path.join(fx.root, "OCTO2", "TaskLogs"))).toContain("servertasks-3_CCCCCCCCCC.txt");

    const s = fx.cluster.state;
    expect(s.folders).toEqual({
      taskLogs: "\\\\fs01\\Octopus Shared\\TaskLogs",
      artifacts: "\\\\fs01\\Octopus Shared\\Artifacts",
      packages: "\\\\fs01\\Octopus Shared\\Packages",
    });
    expect(s.maintenance).toBe(false);
    expect(s.nodes.map((n) => [n.name, n.isDraining, n.maxConcurrentTasks, n.service])).toEqual([
      ["OCTO1", false, 5, "running"],
      ["OCTO2", false, 10, "running"],
    ]);
    // Every node served every sampled task log.
    expect(fx.cluster.calls.filter((c) => c.method === "readRawLog").length).toBe(6);
  });

  it("a resumed repair keeps the finding its journal holds: nothing to repair means no node is drained, stopped or re-pointed", async () => {
    fx = await clusterFixture();
    // What assess-repair journaled before the process died (the cluster itself still needs the repair).
    fx.facts.set("assess-repair", { needed: false, reason: "found before the crash" });
    // The read-only proofs are left out: on this cluster verify-copy would stop the run (nothing was merged).
    const later = fx
      .steps("repair")
      .filter((s) => !["preflight", "provision-storage", "assess-repair", "verify-copy", "verify-octopus"].includes(s.id));
    const { results } = await runAll(later, fx.clock);
    const acted = fx.cluster.calls.filter((c) => ["update", "set", "stop", "start", "write"].includes(c.method));
    expect(acted).toEqual([]);
    expect(results.get("drain-nodes")).toEqual({ nothingToRepair: "found before the crash" });
    expect(fx.engine.runs.filter((r) => r.dryRun !== true)).toEqual([]);
  });

  it("a repair journaled by an octoha without assess-repair resumes with the steps it was started with", async () => {
    fx = await clusterFixture();
    const old = fx
      .steps("repair")
      .map((s) => s.id)
      .filter((id) => id !== "assess-repair");
    expect(fx.steps("repair", {}, undefined, old).map((s) => s.id)).toEqual(old);
  });

  it("--full: assess-repair finds the repair needed without looking, and every step acts", async () => {
    fx = await clusterFixture();
    const { results } = await runAll(fx.steps("repair", { full: true }), fx.clock);
    expect(results.get("assess-repair")).toEqual({ needed: true, reason: "--full: the whole outage was asked for" });
    expect(fx.cluster.calls.filter((c) => c.method === "stop")).toHaveLength(2);
  });

  it("lists tasks whose logs exist nowhere without failing the repair", async () => {
    fx = await clusterFixture();
    fx.cluster.state.tasks.push({
      id: "ServerTasks-9",
      name: "Deploy",
      state: "Success",
      serverNode: "OCTO2",
      completedTime: "2026-01-04T00:00:00Z",
    });
    const { results } = await runAll(fx.steps("repair"), fx.clock);
    expect(results.get("verify-copy")).toMatchObject({ logsNowhere: ["ServerTasks-9"], logsNotCopied: [], packagesMissing: [] });
    // And verify-octopus does not try to read a log known to be lost.
    expect(fx.cluster.calls.filter((c) => c.method === "readRawLog" && c.args[0] === "ServerTasks-9")).toEqual([]);
  });

  it("journals only the first lost logs, yet verify-octopus still reads none of the others", async () => {
    fx = await clusterFixture();
    const lost = VERIFY_LIST_LIMIT + 5;
    for (let i = 0; i < lost; i++)
      fx.cluster.state.tasks.push({
        id: `ServerTasks-${9000 + i}`,
        name: "Deploy",
        state: "Success",
        serverNode: "OCTO2",
        completedTime: "2026-01-04T00:00:00Z",
      });
    const { results } = await runAll(fx.steps("repair", { verifyAll: true }), fx.clock);
    const verified = results.get("verify-copy") as { logsNowhere: string[]; logsNowhereTotal: number };
    expect(verified.logsNowhere).toHaveLength(VERIFY_LIST_LIMIT);
    expect(verified.logsNowhereTotal).toBe(lost);
    const reads = fx.cluster.calls.filter((c) => c.method === "readRawLog").map((c) => String(c.args[0]));
    expect(reads.filter((id) => Number(id.split("-")[1]) >= 9000)).toEqual([]);
    expect(reads.length).toBeGreaterThan(0);
  });

  it("a package the database indexes but no node has stops the run before any node starts, naming it", async () => {
    fx = await clusterFixture();
    fx.cluster.state.packages.push({ id: "packages-Ghost.9.9.9", packageId: "Ghost", version: "9.9.9", spaceId: "Spaces-1" });
    const error = await runAll(fx.steps("repair"), fx.clock).catch((e: unknown) => e as OctohaError);
    expect((error as OctohaError).code).toBe("VERIFY_COPY_FAILED");
    expect((error as OctohaError).hint).toContain("Ghost 9.9.9");
    expect(fx.cluster.calls.some((c) => c.method === "start")).toBe(false);
    expect(fx.cluster.state.nodes.every((n) => n.service === "stopped")).toBe(true);
  });
});

describe("migrate workflow", () => {
  it("runs the full order, copies everything, repaths with only the changed keys, and leaves Octopus as it found it otherwise", async () => {
    fx = await clusterFixture();
    const steps = fx.steps("migrate");
    expect(steps.map((s) => s.id)).toEqual([
      "preflight",
      "provision-storage",
      "preseed",
      "drain-nodes",
      "maintenance-on",
      "stop-services",
      "copy-task-logs",
      "copy-artifacts",
      "copy-packages",
      "verify-copy",
      "repath",
      "start-services",
      "verify-octopus",
      "maintenance-off",
      "undrain",
    ]);
    for (const s of steps) expect(STEP_IDS).toContain(s.id);
    await runAll(steps, fx.clock);
    expect(await readFile(shared(fx, "TaskLogs/servertasks-1_AAAAAAAAAA.txt"), "utf8")).toBe("log of task 1 from OCTO1");
    const pathWrites = fx.cluster.calls.filter((c) => c.method === "write");
    expect(pathWrites).toHaveLength(1);
    expect(Object.keys(pathWrites[0]!.args[0] as object).sort()).toEqual(["artifacts", "packages", "taskLogs"]);
  });

  it("after a preseed, the window copy moves only the delta (new and grown files)", async () => {
    fx = await clusterFixture();
    await runAll(fx.steps("preseed"), fx.clock);
    expect(fx.cluster.writes()).toEqual([]); // preseed changes nothing in Octopus
    await writeFiles(path.join(fx.root, "OCTO1"), {
      "TaskLogs/servertasks-4_DDDDDDDDDD.txt": "new while live",
      "TaskLogs/servertasks-1_AAAAAAAAAA.txt": "log of task 1 from OCTO1, grown",
    });
    // Octopus kept writing while live: the preseed still verifies (the window copy moves the delta)…
    const preseed = fx.steps("migrate").find((s) => s.id === "preseed")!;
    expect((await preseed.verify(recordingContext("preseed"), { jobs: [] })).ok).toBe(true);
    // …but the window copy, with Octopus stopped, must leave nothing behind.
    const copyLogs = fx.steps("migrate").find((s) => s.id === "copy-task-logs")!;
    expect((await copyLogs.verify(recordingContext("copy-task-logs"), { jobs: [] })).ok).toBe(false);
    const r = (await copyLogs.apply(recordingContext("copy-task-logs"), undefined)) as { jobs: { node: string; filesCopied: number }[] };
    expect(r.jobs.find((j) => j.node === "OCTO1")!.filesCopied).toBe(2);
    expect(await readFile(shared(fx, "TaskLogs/servertasks-1_AAAAAAAAAA.txt"), "utf8")).toBe("log of task 1 from OCTO1, grown");
  });
});

describe("preflight", () => {
  it("refuses to run on a database schema it does not recognise, before changing anything", async () => {
    fx = await clusterFixture({ knobs: { unknownSchema: true } });
    const error = await runAll(fx.steps("repair"), fx.clock).catch((e: unknown) => e as OctohaError);
    expect((error as OctohaError).code).toBe("PREFLIGHT_FAILED");
    expect((error as OctohaError).hint).toContain("schema was not recognised");
    expect(fx.cluster.writes()).toEqual([]);
  });

  it("reports an unset secret env var and an unencrypted SQL connection, each with its fix", async () => {
    fx = await clusterFixture();
    fx.cluster.state.encrypted = false;
    const preflight = fx.steps("repair", {}, { OCTOPUS_API_KEY: "API-ABCDEFGHIJKLMNOPQRSTUV" })[0]!;
    const p = await preflight.inspect(recordingContext("preflight"));
    expect(p.findings.map((f) => f.code)).toEqual(expect.arrayContaining(["SQL_NOT_ENCRYPTED", "ENV_UNSET"]));
    expect(p.findings.find((f) => f.code === "ENV_UNSET")!.summary).toContain("OCTOHA_TEST_SQL");
    expect(p.findings.every((f) => f.severity === "info" || f.fix)).toBe(true);
  });
});

describe("safety nets against a wrong plan", () => {
  it("preflight warns when a node folder named in the plan does not exist", async () => {
    fx = await clusterFixture();
    const p = await fx.steps("repair")[0]!.inspect(recordingContext("preflight"));
    expect(p.findings.find((f) => f.code === "SOURCE_MISSING")).toMatchObject({
      severity: "warning",
      node: "OCTO2",
      path: path.join(fx.root, "OCTO2/Artifacts"),
    });
  });

  it("verify-copy stops the run when not one task log is found anywhere (folders in the plan are wrong)", async () => {
    fx = await clusterFixture();
    const plan = fx.plan;
    for (const n of plan.nodes) n.folders.taskLogs = { octopus: "C:\\Octopus\\TaskLogs", access: path.join(fx.root, "nowhere", n.name) };
    const error = await runAll(fx.steps("migrate"), fx.clock).catch((e: unknown) => e as OctohaError);
    expect((error as OctohaError).code).toBe("VERIFY_COPY_FAILED");
    expect((error as OctohaError).hint).toContain("TaskLogs folders are probably wrong");
    expect(fx.cluster.calls.some((c) => c.method === "write" || c.method === "start")).toBe(false);
  });
});

describe("provision-storage", () => {
  it("with every folder there already it changed nothing: a failed run of it blocks no new run", async () => {
    fx = await clusterFixture();
    const provision = fx.steps("repair")[1]!;
    for (const kind of ["TaskLogs", "Artifacts", "Packages"]) await writeFiles(path.join(fx.root, "shared"), { [`${kind}/x`]: "there" });
    const r = await provision.apply(recordingContext("provision-storage"), undefined);
    expect(r).toEqual({ created: [] });
    expect(provision.changedNothing?.(r)).toBe(true);
    expect(provision.changedNothing?.({ created: ["\\\\fs01\\x"] })).toBe(false);
  });

  it("rollback removes only the folders this run created, and only when empty", async () => {
    fx = await clusterFixture();
    await writeFiles(path.join(fx.root, "shared"), { "Artifacts/keep.txt": "pre-existing" });
    const provision = fx.steps("repair")[1]!;
    const ctx = recordingContext("provision-storage");
    const r = (await provision.apply(ctx, undefined)) as { created: string[] };
    expect(r.created.sort()).toEqual([shared(fx, "Packages"), shared(fx, "TaskLogs")]);
    await provision.apply(ctx, r);
    await writeFiles(shared(fx, ""), { "TaskLogs/servertasks-1_X.txt": "copied" });
    await provision.rollback(ctx, r);
    expect(await listTree(shared(fx, ""))).toEqual(["Artifacts/", "Artifacts/keep.txt", "TaskLogs/", "TaskLogs/servertasks-1_X.txt"]);
    expect(ctx.events.some((e) => e.level === "warn" && e.message.includes("TaskLogs"))).toBe(true);
  });
});

describe("repath", () => {
  it("records the folders first, writes only what changes, and rollback writes back exactly the before-state", async () => {
    fx = await clusterFixture();
    fx.cluster.state.folders.artifacts = "\\\\FS01\\Octopus Shared\\Artifacts\\"; // already shared, other spelling
    fx.cluster.state.nodes.forEach((n) => (n.service = "stopped"));
    const repath = fx.steps("repair").find((s) => s.id === "repath")!;
    const before = { ...fx.cluster.state.folders };
    const ctx = recordingContext("repath");
    const r = await repath.apply(ctx, undefined);
    expect(ctx.checkpoints[0]).toMatchObject({ before });
    expect(fx.cluster.calls.filter((c) => c.method === "write").map((c) => Object.keys(c.args[0] as object).sort())).toEqual([
      ["packages", "taskLogs"],
    ]);
    await repath.apply(ctx, r);
    expect(fx.cluster.calls.filter((c) => c.method === "write")).toHaveLength(1);
    await repath.rollback(ctx, r);
    expect(fx.cluster.state.folders).toEqual(before);
  });

  it("refuses rollback once a node has started on the new folders, saying why", async () => {
    fx = await clusterFixture();
    fx.cluster.state.nodes.forEach((n) => (n.service = "stopped"));
    const steps = fx.steps("repair");
    const repath = steps.find((s) => s.id === "repath")!;
    const start = steps.find((s) => s.id === "start-services")!;
    const r = await repath.apply(recordingContext("repath"), undefined);
    const started = await start.apply(recordingContext("start-services"), undefined);
    await start.rollback(recordingContext("start-services"), started);
    const error = await repath.rollback(recordingContext("repath"), r).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RollbackRefused);
    expect((error as RollbackRefused).reason).toContain("may have written new task logs");
    expect(fx.cluster.state.folders.taskLogs).toBe("\\\\fs01\\Octopus Shared\\TaskLogs");
  });

  it("a repath that wrote nothing (Octopus already pointed there) does not refuse a rollback after the start", async () => {
    fx = await clusterFixture();
    fx.cluster.state.nodes.forEach((n) => (n.service = "stopped"));
    const steps = fx.steps("repair");
    const repath = steps.find((s) => s.id === "repath")!;
    const start = steps.find((s) => s.id === "start-services")!;
    await repath.apply(recordingContext("repath"), undefined);
    // A second run: the folders already are the shared ones, so this repath writes nothing.
    const r = (await repath.apply(recordingContext("repath"), undefined)) as { written: object };
    expect(r.written).toEqual({});
    await start.apply(recordingContext("start-services"), undefined);
    const writes = fx.cluster.writes().length;
    expect(await repath.rollbackRefusal!(recordingContext("repath"), r)).toBeUndefined();
    await repath.rollback(recordingContext("repath"), r);
    expect(fx.cluster.writes().length).toBe(writes);
  });

  it("a start-services that started no node (every node was down before the run) does not refuse repath's rollback", async () => {
    fx = await clusterFixture();
    fx.cluster.state.nodes.forEach((n) => (n.service = "stopped"));
    const steps = fx.steps("repair");
    const stop = steps.find((s) => s.id === "stop-services")!;
    const repath = steps.find((s) => s.id === "repath")!;
    const start = steps.find((s) => s.id === "start-services")!;
    expect(await stop.apply(recordingContext("stop-services"), undefined)).toMatchObject({ acted: [] });
    const r = await repath.apply(recordingContext("repath"), undefined);
    await start.apply(recordingContext("start-services"), undefined);
    expect(await repath.rollbackRefusal!(recordingContext("repath"), r)).toBeUndefined();
  });

  it("a failing path write is reported and the recorded before-state still allows rollback", async () => {
    fx = await clusterFixture({ knobs: { failingPathWrites: new Set(["packages"]) } });
    fx.cluster.state.nodes.forEach((n) => (n.service = "stopped"));
    const repath = fx.steps("repair").find((s) => s.id === "repath")!;
    const ctx = recordingContext("repath");
    await expect(repath.apply(ctx, undefined)).rejects.toMatchObject({ code: "PATH_WRITE_FAILED" });
    expect(ctx.checkpoints).toHaveLength(1);
  });

  it("after a failed path (nothing changed), rollback writes nothing, so the same failure cannot block it, and says so", async () => {
    fx = await clusterFixture({ knobs: { failingPathWrites: new Set(["packages"]) } });
    fx.cluster.state.nodes.forEach((n) => (n.service = "stopped"));
    const before = { ...fx.cluster.state.folders };
    const repath = fx.steps("repair").find((s) => s.id === "repath")!;
    const ctx = recordingContext("repath");
    await repath.apply(ctx, undefined).catch(() => undefined);
    const recorded = ctx.checkpoints[0];
    const writes = fx.cluster.writes().length;
    expect(await repath.rollbackRefusal!(recordingContext("repath"), recorded)).toBeUndefined();
    const undo = recordingContext("repath");
    await repath.rollback(undo, recorded); // the fault is still there
    expect(fx.cluster.writes().length).toBe(writes);
    expect(fx.cluster.state.folders).toEqual(before);
    expect(undo.events.map((e) => e.message)).toEqual([
      expect.stringMatching(/^Nothing to write back: Octopus still uses the folders it had before the run/),
    ]);
  });
});

describe("repath: keys nobody had set (ClusterShared, Imports)", () => {
  const SHARE = "\\\\fs01\\Octopus Shared";
  const repathOf = (f: ClusterFixture) =>
    createRepathStep({
      plan: f.plan,
      ports: f.cluster.ports,
      facts: f.facts,
      target: { clusterShared: SHARE, taskLogs: `${SHARE}\\TaskLogs`, imports: `${SHARE}\\Imports` },
    });

  it("records the folder an unset key resolved to, and rollback writes it back explicitly and says so", async () => {
    fx = await clusterFixture();
    fx.cluster.state.nodes.forEach((n) => (n.service = "stopped"));
    const before = { ...fx.cluster.state.folders };
    const repath = repathOf(fx);
    const ctx = recordingContext("repath");
    const r = await repath.apply(ctx, undefined);
    expect(ctx.checkpoints[0]).toMatchObject({ before, unsetBefore: { clusterShared: "C:\\Octopus", imports: "C:\\Octopus\\Imports" } });
    expect(fx.cluster.state.folders.clusterShared).toBe(SHARE);
    await repath.rollback(ctx, r);
    expect(fx.cluster.state.folders).toEqual({ ...before, clusterShared: "C:\\Octopus", imports: "C:\\Octopus\\Imports" });
    const said = ctx.events.find((e) => e.level === "warn");
    expect(said?.message).toMatch(/Not set before the run, now set explicitly/);
    expect(said?.data).toEqual({ nowExplicit: { clusterShared: "C:\\Octopus", imports: "C:\\Octopus\\Imports" } });
  });

  it("refuses before changing anything when it cannot tell which folder an unset key uses (no Octopus.Home)", async () => {
    fx = await clusterFixture();
    delete fx.cluster.state.home;
    const repath = repathOf(fx);
    const preview = await repath.inspect(recordingContext("repath"));
    expect(preview.findings).toMatchObject([{ severity: "error", code: "REPATH_BEFORE_UNKNOWN" }]);
    const ctx = recordingContext("repath");
    const error = (await repath.apply(ctx, undefined).catch((e: unknown) => e)) as OctohaError;
    expect(error.code).toBe("REPATH_BEFORE_UNKNOWN");
    expect(error.message).toContain("clusterShared, imports");
    expect(ctx.checkpoints).toEqual([]);
    expect(fx.cluster.writes()).toEqual([]);
  });

  it("past the point of no return, the refusal's manual path command writes back the unset keys' folders too", async () => {
    fx = await clusterFixture();
    fx.cluster.state.nodes.forEach((n) => (n.service = "stopped"));
    const repath = repathOf(fx);
    const r = await repath.apply(recordingContext("repath"), undefined);
    fx.cluster.state.nodes.forEach((n) => (n.service = "running"));
    const reason = await repath.rollbackRefusal!(recordingContext("repath"), r);
    expect(reason).toContain("--clusterShared C:\\Octopus --taskLogs C:\\Octopus\\TaskLogs --imports C:\\Octopus\\Imports");
  });

  it("a journaled result that did not record an unset key's folder refuses to roll back instead of leaving the key as it is", async () => {
    fx = await clusterFixture();
    fx.cluster.state.nodes.forEach((n) => (n.service = "stopped"));
    const repath = repathOf(fx);
    const old = { before: { taskLogs: "C:\\Octopus\\TaskLogs" }, written: { clusterShared: SHARE, taskLogs: `${SHARE}\\TaskLogs` } };
    Object.assign(fx.cluster.state.folders, old.written); // that run's path did write them
    expect(await repath.rollbackRefusal!(recordingContext("repath"), old)).toMatch(/clusterShared was not set before the run/);
    await expect(repath.rollback(recordingContext("repath"), old)).rejects.toBeInstanceOf(RollbackRefused);
    expect(fx.cluster.writes()).toEqual([]);
  });

  it("a journaled result that did not record an unset key's folder rolls back when that key is still not set (its path failed)", async () => {
    fx = await clusterFixture();
    fx.cluster.state.nodes.forEach((n) => (n.service = "stopped"));
    const before = { ...fx.cluster.state.folders };
    const repath = repathOf(fx);
    const old = { before: { taskLogs: "C:\\Octopus\\TaskLogs" }, written: { clusterShared: SHARE, taskLogs: `${SHARE}\\TaskLogs` } };
    expect(await repath.rollbackRefusal!(recordingContext("repath"), old)).toBeUndefined();
    await repath.rollback(recordingContext("repath"), old);
    expect(fx.cluster.writes()).toEqual([]);
    expect(fx.cluster.state.folders).toEqual(before);
  });

  it("rollback writes back only the keys that differ now; a key still unset stays unset", async () => {
    fx = await clusterFixture();
    fx.cluster.state.nodes.forEach((n) => (n.service = "stopped"));
    const before = { ...fx.cluster.state.folders };
    const repath = repathOf(fx);
    const r = await repath.apply(recordingContext("repath"), undefined);
    // As if the write had only reached taskLogs: clusterShared and imports are still unset.
    fx.cluster.state.folders = { ...before, taskLogs: `${SHARE}\\TaskLogs` };
    const writes = fx.cluster.writes().length;
    const ctx = recordingContext("repath");
    await repath.rollback(ctx, r);
    expect(
      fx.cluster
        .writes()
        .slice(writes)
        .map((c) => c.args),
    ).toEqual([[{ taskLogs: "C:\\Octopus\\TaskLogs" }]]);
    expect(fx.cluster.state.folders).toEqual(before);
    expect(ctx.events.filter((e) => e.level === "warn")).toEqual([]);
  });
});

describe("what a failed repair left in place (its failure output)", () => {
  const REPAIR = REPAIR_STEP_IDS;
  /** Steps as far as afterFailedRun looks at them: ids, and whether a repair with nothing to repair skipped them. */
  const steps = (skipped: string[] = []) =>
    REPAIR.map((id) => ({ id, skippedBecause: () => (skipped.includes(id) ? "nothing to repair" : undefined) }) as unknown as AnyStep);
  const upTo = (id: string) => REPAIR.slice(0, REPAIR.indexOf(id));

  it("failed at repath: every node stopped, maintenance on, every node draining; rollback offered", () => {
    expect(afterFailedRun(steps(), { applied: upTo("repath"), failedStepId: "repath" })).toEqual({
      leftInPlace:
        "every node's Octopus service is stopped (Octopus is down), maintenance mode is on and every node is draining (takes no new tasks)",
    });
  });

  it("failed before stop-services: claims nothing about the services", () => {
    expect(afterFailedRun(steps(), { applied: upTo("stop-services"), failedStepId: "stop-services" })).toEqual({
      leftInPlace: "maintenance mode is on and every node is draining (takes no new tasks)",
    });
    expect(afterFailedRun(steps(), { applied: upTo("drain-nodes"), failedStepId: "drain-nodes" })).toEqual({});
  });

  it("once start-services has begun after a repath, no rollback is offered (it would refuse); Octopus may be down, said as such", () => {
    expect(afterFailedRun(steps(), { applied: upTo("start-services"), failedStepId: "start-services" })).toEqual({
      leftInPlace:
        "Octopus may be down: start-services failed, and the nodes it names are not running, maintenance mode is on and every node is draining (takes no new tasks)",
      rollback: false,
    });
  });

  it("steps a repair with nothing to repair skipped changed nothing: nothing is said left in place, and --full is the way on", () => {
    const skipped = ["drain-nodes", "maintenance-on", "stop-services", "repath", "copy-task-logs", "start-services"];
    const notes = afterFailedRun(steps(skipped), { applied: upTo("verify-octopus"), failedStepId: "verify-octopus" });
    expect(notes.leftInPlace).toBeUndefined();
    expect(notes.advice).toMatch(/found nothing to repair and changed nothing.*run the repair again with --full/);
  });
});

describe("verify-octopus", () => {
  it("gives a node that is still starting time to answer before reading logs through it", async () => {
    fx = await clusterFixture();
    const f = fx;
    f.cluster.state.nodes[1]!.service = "stopped";
    const sleep = f.clock.sleep;
    f.clock.sleep = async (ms: number) => {
      f.cluster.state.nodes[1]!.service = "running"; // comes up while we wait
      await sleep(ms);
    };
    const verify = f.steps("repair").find((s) => s.id === "verify-octopus")!;
    const ctx = recordingContext("verify-octopus", f.clock);
    const r = (await verify.apply(ctx, undefined)) as { failures: unknown[] };
    expect(r.failures).toEqual([]);
    expect(ctx.events.some((e) => e.message.includes("Waiting for OCTO2"))).toBe(true);
  });

  it("reads failing through a node that is down name it as not answering (start it), not the shared folder's access", async () => {
    fx = await clusterFixture();
    fx.cluster.state.nodes[1]!.service = "stopped"; // never comes up
    const verify = fx.steps("repair").find((s) => s.id === "verify-octopus")!;
    const error = (await verify.apply(recordingContext("verify-octopus", fx.clock), undefined).catch((e: unknown) => e)) as OctohaError;
    expect(error).toMatchObject({ code: "VERIFY_OCTOPUS_FAILED" });
    expect(error.message).toBe("3 of 6 task-log read(s) failed through the nodes (OCTO2 does not answer)");
    expect(error.hint).toContain("OCTO2 does not answer its ping: its Octopus service is not running");
    expect(error.hint).toContain("Start it");
    expect(error.hint).not.toContain("shared folder");
  });

  /** OCTO2 refuses its first `n` task-log reads as a node still settling does (retryable); `calls` counts its reads. */
  function refuseReadsViaOcto2(f: ClusterFixture, n: number) {
    const tasks = f.cluster.ports.tasks;
    const read = tasks.readRawLog.bind(tasks);
    const calls = { octo2: 0 };
    tasks.readRawLog = async (taskId, node) => {
      if (node === "OCTO2" && calls.octo2++ < n)
        throw new OctohaError(`GET /api/tasks/${taskId}/raw on OCTO2 answered 503`, {
          code: "OCTOPUS_HTTP_503",
          behaviour: "retryable",
          node,
        });
      return read(taskId, node);
    };
    return calls;
  }

  it("a read refused for a moment is tried again after 1 s and 2 s (the task-log read budget) and then counts as read", async () => {
    fx = await clusterFixture();
    const calls = refuseReadsViaOcto2(fx, 2);
    const verify = fx.steps("repair").find((s) => s.id === "verify-octopus")!;
    const r = (await verify.apply(recordingContext("verify-octopus", fx.clock), undefined)) as { checked: number; failures: unknown[] };
    expect(r).toEqual({ checked: 6, failures: [], failuresTotal: 0 });
    expect(fx.clock.slept).toEqual([1000, 2000]);
    expect(calls.octo2).toBe(5);
  });

  it("a read still refused after 3 attempts is a failure naming the task and node, and the other reads still happen", async () => {
    fx = await clusterFixture();
    const calls = refuseReadsViaOcto2(fx, Infinity);
    const verify = fx.steps("repair").find((s) => s.id === "verify-octopus")!;
    const error = await verify.apply(recordingContext("verify-octopus", fx.clock), undefined).catch((e: unknown) => e as OctohaError);
    expect(error).toMatchObject({ code: "VERIFY_OCTOPUS_FAILED" });
    expect((error as OctohaError).message).toContain("3 of 6");
    expect((error as OctohaError).hint).toContain("ServerTasks-1 via OCTO2: GET /api/tasks/ServerTasks-1/raw on OCTO2 answered 503");
    expect((error as OctohaError).hint).toContain("OCTO2 answers but cannot read a log: it does not see the shared folder");
    expect(calls.octo2).toBe(9);
    expect(fx.clock.slept).toEqual([1000, 2000, 1000, 2000, 1000, 2000]);
  });

  it("an interrupt during a read's backoff stops the step resumably at once: no failure recorded, no further reads", async () => {
    fx = await clusterFixture();
    const calls = refuseReadsViaOcto2(fx, Infinity);
    const ctx = recordingContext("verify-octopus", fx.clock);
    const sleep = fx.clock.sleep;
    fx.clock.sleep = async (ms: number) => {
      ctx.abort();
      await sleep(ms);
    };
    const readsBefore = fx.cluster.calls.filter((c) => c.method === "readRawLog").length;
    const verify = fx.steps("repair").find((s) => s.id === "verify-octopus")!;
    const error = await verify.apply(ctx, undefined).catch((e: unknown) => e as OctohaError);
    expect(error).toMatchObject({ code: "INTERRUPTED", exitCode: 3, step: "verify-octopus" });
    expect(calls.octo2).toBe(1);
    // Each task is read through every node in turn: the first task's read via OCTO1 happened; none after the interrupt.
    expect(fx.cluster.calls.filter((c) => c.method === "readRawLog").length - readsBefore).toBe(1);
    expect(ctx.checkpoints).toEqual([]);
  });

  it("reads a sample through each node by default and every task with --verify-all, naming the node that fails", async () => {
    fx = await clusterFixture({ planOptions: { verifySampleSize: 1 } });
    delete fx.cluster.state.tasks[1]!.logVia!["OCTO2"];
    const sampled = fx.steps("repair").find((s) => s.id === "verify-octopus")!;
    const r = (await sampled.apply(recordingContext("verify-octopus"), undefined)) as { checked: number };
    expect(r.checked).toBe(2);
    const all = fx.steps("repair", { verifyAll: true }).find((s) => s.id === "verify-octopus")!;
    const error = await all.apply(recordingContext("verify-octopus"), undefined).catch((e: unknown) => e as OctohaError);
    expect((error as OctohaError).code).toBe("VERIFY_OCTOPUS_FAILED");
    expect((error as OctohaError).hint).toContain("ServerTasks-2 via OCTO2");
  });
});

describe("verify-octopus's sample of a million completed tasks", () => {
  it("is spread evenly over the whole history, the same on a resume, from at most twice its size held", () => {
    const pick = () => {
      const sampler = new SpreadSampler<number>(100);
      let held = 0;
      for (let i = 0; i < 1_000_000; i++) {
        sampler.add(i);
        held = Math.max(held, (sampler as unknown as { kept: number[] }).kept.length);
      }
      return { sample: sampler.result(), held };
    };
    const { sample, held } = pick();
    expect(held).toBeLessThanOrEqual(200);
    expect(sample).toHaveLength(100);
    expect(sample[0]).toBe(0);
    expect(sample.at(-1)).toBeGreaterThan(980_000); // reaches the newest tasks
    for (let i = 1; i < sample.length; i++) expect(sample[i]! - sample[i - 1]!).toBeLessThanOrEqual(2 * 10_000);
    expect(pick().sample).toEqual(sample);
    const few = new SpreadSampler<number>(100);
    for (let i = 0; i < 30; i++) few.add(i);
    expect(few.result()).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });
});

describe("what a failed run says of the services", () => {
  const steps = REPAIR_STEP_IDS.map((id) => ({ id, skippedBecause: () => undefined }) as unknown as AnyStep);
  const applied = REPAIR_STEP_IDS.slice(0, REPAIR_STEP_IDS.indexOf("repath"));

  it("says the services as read, never 'every node stopped' while one runs", () => {
    const notes = afterFailedRun(steps, { applied, failedStepId: "repath" }, { live: { OCTO1: "stopped", OCTO2: "running" } });
    expect(notes.leftInPlace).toMatch(
      /^the Octopus service, read just now, is running on OCTO2 and stopped on OCTO1, maintenance mode is on/,
    );
  });

  it("when they cannot be read: what the journal says, and after a failed undo of stop-services that some may run again", () => {
    const live = { OCTO1: "unreadable", OCTO2: "unreadable" } as const;
    const stopped = ["OCTO1", "OCTO2"];
    expect(afterFailedRun(steps, { applied, failedStepId: "repath" }, { live, stopped }).leftInPlace).toMatch(
      /^the Octopus service is stopped on OCTO1 and OCTO2, as stop-services left it \(the services could not be read now\)/,
    );
    expect(afterFailedRun(steps, { applied, undoFailedStepId: "stop-services" }, { live, stopped }).leftInPlace).toMatch(
      /^the Octopus service may still be stopped on OCTO1 and OCTO2 \(stop-services' undo stopped part-way/,
    );
  });
});
