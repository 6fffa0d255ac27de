import { describe, expect, it } from "vitest";
import { createFakeCluster, defaultFakeState } from "../octopus/fakes.js";
import { createDrainNodesStep } from "../../src/steps/drain-nodes.js";
import { createRunFacts } from "../../src/steps/facts.js";
import { createMaintenanceOffStep, createMaintenanceOnStep } from "../../src/steps/maintenance.js";
import { createStartServicesStep, createStopServicesStep } from "../../src/steps/services.js";
import { createUndrainStep } from "../../src/steps/undrain.js";
import { OctohaError } from "../../src/shared/errors.js";
import { fakeClock } from "../helpers/fake-clock.js";
import { recordingContext } from "./helpers.js";

function drainFixture(opts: { cancel?: boolean; stuck?: boolean; pollsUntilDone?: number } = {}) {
  const state = defaultFakeState();
  state.nodes[1]!.isDraining = true; // OCTO2 was already drained by the operator, with cap 10
  state.tasks = [
    { id: "ServerTasks-7", name: "Deploy", state: "Executing", serverNode: "OctopusServerNodes-OCTO1", completedTime: null },
    { id: "ServerTasks-8", name: "Backup", state: "Queued", serverNode: null, completedTime: null },
  ];
  const cluster = createFakeCluster(state, {
    stuckTasks: new Set(opts.stuck ? ["ServerTasks-7"] : []),
    pollsUntilTasksFinish: opts.pollsUntilDone ?? 3,
  });
  const clock = fakeClock();
  const facts = createRunFacts();
  const drain = createDrainNodesStep({
    ports: cluster.ports,
    facts,
    clock,
    drainTimeoutMinutes: 2,
    logHandleWaitSeconds: 60,
    cancelOnTimeout: opts.cancel ?? false,
    pollIntervalMs: 10_000,
  });
  return { cluster, clock, facts, drain };
}

describe("drain-nodes", () => {
  it("records every node's drain flag and task cap before draining anything", async () => {
    const { cluster, drain, clock } = drainFixture();
    const ctx = recordingContext("drain-nodes", clock);
    await drain.apply(ctx, undefined);
    expect(ctx.checkpoints[0]).toEqual({
      phase: "recorded",
      before: [
        { id: "OctopusServerNodes-OCTO1", name: "OCTO1", isDraining: false, maxConcurrentTasks: 5 },
        { id: "OctopusServerNodes-OCTO2", name: "OCTO2", isDraining: true, maxConcurrentTasks: 10 },
      ],
      maintenanceBefore: false,
    });
    const firstUpdate = cluster.calls.findIndex((c) => c.method === "update");
    expect(firstUpdate).toBeGreaterThan(0);
    expect(cluster.state.nodes.every((n) => n.isDraining)).toBe(true);
  });

  it("waits while a task runs, says which task runs on which node, then waits for log handles to close", async () => {
    const { drain, clock } = drainFixture({ pollsUntilDone: 3 });
    const ctx = recordingContext("drain-nodes", clock);
    const r = await drain.apply(ctx, undefined);
    expect(r.phase).toBe("done");
    const waiting = ctx.events.filter((e) => e.level === "progress");
    expect(waiting.length).toBeGreaterThan(0);
    expect(waiting[0]!.message).toContain("ServerTasks-7 (Deploy, Executing) on OCTO1");
    // The queued task does not hold the drain.
    expect(waiting[0]!.message).not.toContain("ServerTasks-8");
    expect(r.handleDeadline! - (r.drainDeadline! - 2 * 60_000)).toBeGreaterThanOrEqual(60_000);
    expect(clock.now()).toBeGreaterThanOrEqual(r.handleDeadline!);
    expect((await drain.verify(ctx, r)).ok).toBe(true);
  });

  it("times out resumably (exit 3) with the list of tasks still running, and cancels nothing", async () => {
    const { cluster, drain, clock } = drainFixture({ stuck: true });
    const ctx = recordingContext("drain-nodes", clock);
    const error = await drain.apply(ctx, undefined).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OctohaError);
    expect((error as OctohaError).code).toBe("DRAIN_TIMEOUT");
    expect((error as OctohaError).exitCode).toBe(3);
    expect((error as OctohaError).hint).toContain("ServerTasks-7 (Deploy, Executing) on OCTO1");
    expect(cluster.calls.some((c) => c.method === "cancel")).toBe(false);
  });

  it("an interrupt during the wait stops resumably (exit 3) with the nodes still drained and the deadline saved", async () => {
    const { cluster, drain, clock } = drainFixture({ stuck: true });
    const ctx = recordingContext("drain-nodes", clock);
    const sleep = clock.sleep;
    clock.sleep = async (ms: number) => {
      ctx.abort();
      await sleep(ms);
    };
    const error = await drain.apply(ctx, undefined).catch((e: unknown) => e as OctohaError);
    expect(error).toMatchObject({ code: "INTERRUPTED", exitCode: 3 });
    expect(cluster.state.nodes.every((n) => n.isDraining)).toBe(true);
    expect(ctx.checkpoints.at(-1)).toMatchObject({ phase: "draining", drainDeadline: expect.any(Number) });
  });

  it("cancels tasks still running at the deadline only when told to", async () => {
    const { cluster, drain, clock } = drainFixture({ stuck: true, cancel: true });
    const ctx = recordingContext("drain-nodes", clock);
    const r = await drain.apply(ctx, undefined);
    expect(r.cancelled).toEqual(["ServerTasks-7"]);
    expect(cluster.calls.filter((c) => c.method === "cancel").map((c) => c.args[0])).toEqual(["ServerTasks-7"]);
  });

  it("a resume continues the log-handle wait from the recorded deadline instead of restarting it", async () => {
    const { drain, clock } = drainFixture({ pollsUntilDone: 0 });
    const deadline = clock.now() + 5_000;
    const last = { phase: "handles" as const, before: [], drainDeadline: clock.now(), handleDeadline: deadline };
    const ctx = recordingContext("drain-nodes", clock);
    await drain.apply(ctx, last);
    expect(clock.slept.reduce((a, b) => a + b, 0)).toBe(5_000);
  });

  it("refuses to record a cluster whose every node is already draining (another run's), changing nothing", async () => {
    const { cluster, drain, clock } = drainFixture({ pollsUntilDone: 0 });
    cluster.state.nodes[0]!.isDraining = true; // OCTO2 already was
    cluster.state.maintenance = true;
    const ctx = recordingContext("drain-nodes", clock);
    const error = (await drain.apply(ctx, undefined).catch((e: unknown) => e)) as OctohaError;
    expect(error).toBeInstanceOf(OctohaError);
    expect(error.code).toBe("CLUSTER_ALREADY_DRAINED");
    expect(error.describe()).toMatch(
      /Every node is draining \(OCTO1, OCTO2\) and Octopus is in maintenance mode[\s\S]*octoha resume[\s\S]*octoha rollback/,
    );
    expect(ctx.checkpoints).toEqual([]);
    expect(cluster.calls.filter((c) => c.method === "update" || c.method === "set")).toEqual([]);
    // The dry-run says so too, as an error.
    const preview = await drain.inspect(ctx);
    expect(preview.findings.map((f) => [f.severity, f.code])).toContainEqual(["error", "CLUSTER_ALREADY_DRAINED"]);
  });

  it("records maintenance mode with the nodes: another run's maintenance mode, switched on during this run's drain wait, is not taken for the operator's", async () => {
    const { cluster, drain, clock, facts } = drainFixture({ pollsUntilDone: 0 });
    const ctx = recordingContext("drain-nodes", clock);
    await drain.apply(ctx, undefined);
    expect(ctx.checkpoints[0]).toMatchObject({ phase: "recorded", maintenanceBefore: false });
    // The fixture's OCTO2 was drained by the operator: said, and put back at the end.
    expect(ctx.events.map((e) => [e.level, e.message])).toContainEqual([
      "warn",
      expect.stringMatching(/^OCTO2 is already draining before this run/),
    ]);
    cluster.state.maintenance = true; // another run, started beside this one, reached its maintenance-on first
    const on = await createMaintenanceOnStep({ ports: cluster.ports, facts }).apply(recordingContext("maintenance-on"), undefined);
    expect(on.before).toBe(false);
    await createMaintenanceOffStep({ ports: cluster.ports, facts }).apply(recordingContext("maintenance-off"), undefined);
    expect(cluster.state.maintenance).toBe(false);
  });

  it("an operator's maintenance mode and one drained node are recorded and put back, not refused", async () => {
    const { cluster, drain, clock } = drainFixture({ pollsUntilDone: 0 });
    cluster.state.maintenance = true; // OCTO2 drained by the operator (the fixture)
    const ctx = recordingContext("drain-nodes", clock);
    expect((await drain.inspect(ctx)).findings.map((f) => f.code)).not.toContain("CLUSTER_ALREADY_DRAINED");
    const r = await drain.apply(ctx, undefined);
    expect(r.before.map((n) => [n.name, n.isDraining])).toEqual([
      ["OCTO1", false],
      ["OCTO2", true],
    ]);
  });

  it("rollback puts back every node's flag and cap exactly", async () => {
    const { cluster, drain, clock } = drainFixture({ pollsUntilDone: 0 });
    const ctx = recordingContext("drain-nodes", clock);
    const r = await drain.apply(ctx, undefined);
    await drain.rollback(ctx, r);
    expect(cluster.state.nodes.map((n) => [n.name, n.isDraining, n.maxConcurrentTasks])).toEqual([
      ["OCTO1", false, 5],
      ["OCTO2", true, 10],
    ]);
  });
});

describe("undrain", () => {
  it("restores flags and task caps exactly as drain recorded them, even if someone changed a cap meanwhile", async () => {
    const { cluster, drain, clock, facts } = drainFixture({ pollsUntilDone: 0 });
    await drain.apply(recordingContext("drain-nodes", clock), undefined);
    cluster.state.nodes[0]!.maxConcurrentTasks = 0;
    const undrain = createUndrainStep({ ports: cluster.ports, facts });
    const ctx = recordingContext("undrain");
    const r = await undrain.apply(ctx, undefined);
    expect(cluster.state.nodes.map((n) => [n.name, n.isDraining, n.maxConcurrentTasks])).toEqual([
      ["OCTO1", false, 5],
      ["OCTO2", true, 10],
    ]);
    expect((await undrain.verify(ctx, r)).ok).toBe(true);
    const writes = cluster.writes().length;
    await undrain.apply(ctx, r);
    expect(cluster.writes().length).toBe(writes);
  });

  it("reads drain's record from the journal after a resume (a fresh process)", async () => {
    const cluster = createFakeCluster();
    cluster.state.nodes.forEach((n) => (n.isDraining = true));
    const journal = {
      "drain-nodes": {
        phase: "done",
        before: [{ id: "OctopusServerNodes-OCTO1", name: "OCTO1", isDraining: false, maxConcurrentTasks: 3 }],
      },
    };
    const facts = createRunFacts((id) => journal[id as keyof typeof journal]);
    await createUndrainStep({ ports: cluster.ports, facts }).apply(recordingContext("undrain"), undefined);
    expect(cluster.state.nodes[0]).toMatchObject({ isDraining: false, maxConcurrentTasks: 3 });
  });

  it("refuses to guess when there is no record of the drain", async () => {
    const cluster = createFakeCluster();
    const error = await createUndrainStep({ ports: cluster.ports, facts: createRunFacts() })
      .apply(recordingContext("undrain"), undefined)
      .catch((e: unknown) => e);
    expect((error as OctohaError).code).toBe("UNDRAIN_NO_RECORD");
    expect(cluster.writes()).toEqual([]);
  });
});

describe("maintenance-on / maintenance-off", () => {
  it("records the mode first, switches it on, applying twice writes once, rollback restores it", async () => {
    const cluster = createFakeCluster();
    const facts = createRunFacts();
    const on = createMaintenanceOnStep({ ports: cluster.ports, facts });
    expect(on.requiresApproval).toBe(true);
    const ctx = recordingContext("maintenance-on");
    const r = await on.apply(ctx, undefined);
    expect(ctx.checkpoints[0]).toEqual({ before: false, after: true });
    await on.apply(ctx, r);
    expect(cluster.writes().map((c) => c.args)).toEqual([[true]]);
    expect((await on.verify(ctx, r)).ok).toBe(true);
    await on.rollback(ctx, r);
    expect(cluster.state.maintenance).toBe(false);
  });

  it("maintenance-off leaves maintenance on when the operator had it on before the run", async () => {
    const cluster = createFakeCluster();
    cluster.state.maintenance = true;
    const facts = createRunFacts();
    await createMaintenanceOnStep({ ports: cluster.ports, facts }).apply(recordingContext("maintenance-on"), undefined);
    const off = createMaintenanceOffStep({ ports: cluster.ports, facts });
    const r = await off.apply(recordingContext("maintenance-off"), undefined);
    expect(cluster.state.maintenance).toBe(true);
    expect(cluster.writes()).toEqual([]);
    expect((await off.verify(recordingContext("maintenance-off"), r)).ok).toBe(true);
  });
});

describe("stop-services / start-services", () => {
  it("stop records which nodes ran; rollback starts only those", async () => {
    const cluster = createFakeCluster();
    cluster.state.nodes[1]!.service = "stopped";
    const facts = createRunFacts();
    const stop = createStopServicesStep({ ports: cluster.ports, facts, nodeNames: ["OCTO1", "OCTO2"] });
    const ctx = recordingContext("stop-services");
    const r = await stop.apply(ctx, undefined);
    expect(r.acted).toEqual(["OCTO1"]);
    expect((await stop.verify(ctx, r)).ok).toBe(true);
    await stop.rollback(ctx, r);
    expect(cluster.state.nodes.map((n) => n.service)).toEqual(["running", "stopped"]);
  });

  it("start-services verify names a plan node already stopped when stop-services came to it (not stopped, so not started, by it)", async () => {
    const cluster = createFakeCluster(undefined, { statePollsWhileStarting: 2 });
    cluster.state.nodes[1]!.service = "stopped";
    const facts = createRunFacts();
    const deps = { ports: cluster.ports, facts, nodeNames: ["OCTO1", "OCTO2"] };
    const stopped = await createStopServicesStep(deps).apply(recordingContext("stop-services"), undefined);
    expect(stopped.acted).toEqual(["OCTO1"]);
    const start = createStartServicesStep(deps);
    const ctx = recordingContext("start-services");
    const r = await start.apply(ctx, undefined);
    const verdict = await start.verify(ctx, r);
    expect(verdict.ok).toBe(false);
    expect(verdict.summary).toBe("already stopped when the run stopped the nodes, not started by it: OCTO2");
    expect(verdict.problems).toHaveLength(1);
    expect(verdict.problems![0]).toMatch(
      /^OCTO2 is stopped: it was already stopped when the run came to stop the nodes, so the run did not start it/,
    );
    expect(verdict.problems![0]).toContain("Start its Octopus service");

    // Started by hand, and still starting when `octoha resume` verifies again: waited for, then verified.
    await cluster.ports.services.start("OCTO2");
    expect(await start.verify(ctx, r)).toMatchObject({ ok: true, summary: "every node running" });
    expect(ctx.events.some((e) => /Waiting for OCTO2/.test(e.message))).toBe(true);
  });

  it("a node started by someone between stop-services and start-services is restarted (it read the old folders at its start), with a warning", async () => {
    const cluster = createFakeCluster();
    const facts = createRunFacts();
    const deps = { ports: cluster.ports, facts, nodeNames: ["OCTO1", "OCTO2"] };
    const stopped = await createStopServicesStep(deps).apply(recordingContext("stop-services"), undefined);
    expect(stopped.acted).toEqual(["OCTO1", "OCTO2"]);
    await cluster.ports.services.start("OCTO2"); // by hand, before repath
    cluster.calls.length = 0;
    const start = createStartServicesStep(deps);
    const ctx = recordingContext("start-services");
    const r = await start.apply(ctx, undefined);
    const changes = cluster.writes().map((c) => `${c.method} ${String(c.args[0])}`);
    expect(changes).toEqual(["stop OCTO2", "start OCTO1", "start OCTO2"]);
    expect(r.restart).toEqual(["OCTO2"]);
    expect(ctx.events.some((e) => e.level === "warn" && /OCTO2 was running again .* restarting it .*octoha repair/.test(e.message))).toBe(
      true,
    );
    // Said in the verdict too: journaled, in the report and status, after a resume in another process.
    const verdict = await start.verify(ctx, r);
    expect(verdict.ok).toBe(true);
    expect(verdict.summary).toMatch(/^every node running; restarted OCTO2: running again .* run `octoha repair` after this run$/);

    // Resumed after the stop was recorded: the node is not stopped a second time once started.
    cluster.calls.length = 0;
    await start.apply(recordingContext("start-services"), r);
    expect(cluster.writes().filter((c) => c.method === "stop")).toEqual([]);
  });

  it("start-services' preview starts only the nodes a run would stop", async () => {
    const cluster = createFakeCluster();
    cluster.state.nodes[1]!.service = "stopped";
    const start = createStartServicesStep({ ports: cluster.ports, facts: createRunFacts(), nodeNames: ["OCTO1", "OCTO2"] });
    const preview = await start.inspect(recordingContext("start-services"));
    expect(preview.changes.map((c) => [c.target, c.action])).toEqual([
      ["service on OCTO1", "update"],
      ["service on OCTO2", "noop"],
    ]);
  });

  it("a node that fails to start is named, and the other node is still started", async () => {
    const cluster = createFakeCluster(undefined, { nodesFailingToStart: new Set(["OCTO1"]) });
    cluster.state.nodes.forEach((n) => (n.service = "stopped"));
    const start = createStartServicesStep({ ports: cluster.ports, facts: createRunFacts(), nodeNames: ["OCTO1", "OCTO2"] });
    const error = await start.apply(recordingContext("start-services"), undefined).catch((e: unknown) => e);
    expect((error as OctohaError).code).toBe("SERVICE_START_FAILED");
    expect((error as OctohaError).hint).toContain("OCTO1");
    expect(cluster.state.nodes[1]!.service).toBe("running");
  });
});

describe("start-services waits for the started nodes to answer", () => {
  const stoppedCluster = (pollsWhileStarting: number) => {
    const cluster = createFakeCluster(undefined, { statePollsWhileStarting: pollsWhileStarting });
    cluster.state.nodes.forEach((n) => (n.service = "stopped"));
    return cluster;
  };

  it("a node that answers 503 for a while after its start is polled until it answers, not failed at the first try", async () => {
    const cluster = stoppedCluster(3);
    const clock = fakeClock();
    const start = createStartServicesStep({
      ports: cluster.ports,
      facts: createRunFacts(),
      nodeNames: ["OCTO1", "OCTO2"],
      clock,
      startTimeoutMs: 60_000,
      pollIntervalMs: 1000,
    });
    const ctx = recordingContext("start-services", clock);
    const r = await start.apply(ctx, undefined);
    expect(r.readyDeadline).toBe(1_700_000_000_000 + 60_000);
    expect(ctx.checkpoints.at(-1)).toMatchObject({ readyDeadline: r.readyDeadline });
    expect(ctx.events.filter((e) => e.level === "progress").length).toBeGreaterThan(0);
    expect((await start.verify(ctx, r)).ok).toBe(true);
  });

  it("a starting node is asked again after 250 ms, then at doubling waits up to the poll interval", async () => {
    const cluster = stoppedCluster(6);
    const clock = fakeClock();
    const start = createStartServicesStep({ ports: cluster.ports, facts: createRunFacts(), nodeNames: ["OCTO1", "OCTO2"], clock });
    await start.apply(recordingContext("start-services", clock), undefined);
    expect(clock.slept).toEqual([250, 500, 1000, 2000, 2000, 2000]);
  });

  it("nodes that never answer fail the step at the recorded deadline, naming them", async () => {
    const cluster = stoppedCluster(1_000_000);
    const clock = fakeClock();
    const start = createStartServicesStep({
      ports: cluster.ports,
      facts: createRunFacts(),
      nodeNames: ["OCTO1", "OCTO2"],
      clock,
      startTimeoutMs: 60_000,
      pollIntervalMs: 1000,
    });
    const error = (await start.apply(recordingContext("start-services", clock), undefined).catch((e: unknown) => e)) as OctohaError;
    expect(error.code).toBe("SERVICE_NOT_READY");
    expect(error.message).toContain("OCTO1, OCTO2");
    expect(clock.now()).toBe(1_700_000_000_000 + 60_000);
  });

  it("a resumed start continues the recorded deadline instead of starting a new wait", async () => {
    const cluster = stoppedCluster(1_000_000);
    const clock = fakeClock();
    const start = createStartServicesStep({
      ports: cluster.ports,
      facts: createRunFacts(),
      nodeNames: ["OCTO1", "OCTO2"],
      clock,
      startTimeoutMs: 60_000,
      pollIntervalMs: 1000,
    });
    const last = {
      before: { OCTO1: "stopped" as const, OCTO2: "stopped" as const },
      acted: ["OCTO1", "OCTO2"],
      readyDeadline: clock.now() + 5_000,
    };
    const error = (await start.apply(recordingContext("start-services", clock), last).catch((e: unknown) => e)) as OctohaError;
    expect(error.code).toBe("SERVICE_NOT_READY");
    expect(clock.now()).toBe(last.readyDeadline);
  });

  it("rollback of stop-services starts the nodes and waits until they answer", async () => {
    const cluster = createFakeCluster(undefined, { statePollsWhileStarting: 2 });
    const clock = fakeClock();
    const facts = createRunFacts();
    const stop = createStopServicesStep({ ports: cluster.ports, facts, nodeNames: ["OCTO1", "OCTO2"], clock, pollIntervalMs: 1000 });
    const ctx = recordingContext("stop-services", clock);
    const r = await stop.apply(ctx, undefined);
    await stop.rollback(ctx, r);
    expect(await cluster.ports.services.state("OCTO1")).toBe("running");
    expect(ctx.events.some((e) => /Waiting for OCTO1/.test(e.message))).toBe(true);
  });
});

describe("drain progress names nodes the way operators know them", () => {
  it("shows the node's name even when the API reports the task's node by its Id", async () => {
    const { describeTasks } = await import("../../src/steps/drain-nodes.js");
    const lines = describeTasks(
      [{ id: "ServerTasks-81", name: "Deploy", state: "Executing", serverNode: "OctopusServerNodes-OCTO2" }],
      [{ id: "OctopusServerNodes-OCTO2", name: "OCTO2" }],
    );
    expect(lines).toEqual(["ServerTasks-81 (Deploy, Executing) on OCTO2"]);
  });
});
