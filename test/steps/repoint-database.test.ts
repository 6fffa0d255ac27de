/**
 * repoint-database and verify-database against fakes: two databases (snapshots and heartbeats) and nodes
 * whose config file holds a connection string, written only through setConnectionString.
 */
import { describe, expect, it } from "vitest";
import type { DatabaseSnapshot } from "../../src/octopus/sql/restore-compare.js";
import type { DatabaseInventory, NodeServices } from "../../src/octopus/types.js";
import { OctohaError } from "../../src/shared/errors.js";
import { createRunFacts } from "../../src/steps/facts.js";
import { createRepointDatabaseStep } from "../../src/steps/repoint-database.js";
import type { RepointResult } from "../../src/steps/results.js";
import { createVerifyDatabaseStep } from "../../src/steps/verify-database.js";
import { fakeClock } from "../helpers/fake-clock.js";
import { recordingContext } from "./helpers.js";

/** What a step's apply (or another call) rejected with: OctohaError's fields a test reads. */
const failure = async (attempt: Promise<unknown>) =>
  (await attempt.catch((e: unknown) => e)) as { code: string; exitCode: number; message: string; hint: string };

const OLD = "Server=sql01;Database=Octopus;User Id=octopus;Password=Old-Pa55word";
const NEW = "Server=ag-listener;Database=Octopus;User Id=octopus;Password=New-Pa55word;MultiSubnetFailover=True";
const NODES = ["OCTO1", "OCTO2", "OCTO3"];

const snapshot = (edit: (s: DatabaseSnapshot) => void = () => {}): DatabaseSnapshot => {
  const s: DatabaseSnapshot = {
    tables: ["ServerTask", "OctopusServerNode", "NuGetPackage", "Event", "SchemaVersions"],
    schemaVersion: { id: 42, script: "Script2024.2.sql" },
    identity: { installs: 1, first: "2024.2.1 installed 2020-01-01 on OCTO1", digest: "abcd" },
    rowCounts: { ServerTask: 100, OctopusServerNode: 3, NuGetPackage: 5, Event: 900, SchemaVersions: 42 },
  };
  edit(s);
  return s;
};

function fakeDatabase(s: DatabaseSnapshot, beats: Record<string, string>): DatabaseInventory & { beats: Record<string, string> } {
  const db = {
    beats,
    snapshot: async () => s,
    heartbeats: async () => ({ ...db.beats }),
  };
  return db as unknown as DatabaseInventory & { beats: Record<string, string> };
}

/** Each node's config file: the connection string it names. `failOn` makes `database` fail once on that node. */
function fakeNodes(failOn?: string): NodeServices & { config: Record<string, string>; calls: string[] } {
  const config = Object.fromEntries(NODES.map((n) => [n, OLD]));
  const calls: string[] = [];
  let failed = false;
  return {
    config,
    calls,
    stop: async () => undefined,
    start: async () => undefined,
    state: async () => "stopped",
    async setConnectionString(node, cs) {
      calls.push(node);
      if (node === failOn && !failed) {
        failed = true;
        throw Object.assign(new Error(`Node ${node}: Octopus.Server.exe database exited with code 1`), {
          code: "NODE_CONTROL_FAILED",
          exitCode: 3,
        });
      }
      config[node] = cs;
    },
  };
}

const BEFORE = "2026-12-04T20:00:00.000Z";

function setUp(target = snapshot(), failOn?: string) {
  const facts = createRunFacts();
  const current = fakeDatabase(snapshot(), Object.fromEntries(NODES.map((n) => [n, BEFORE])));
  const next = fakeDatabase(target, Object.fromEntries(NODES.map((n) => [n, BEFORE])));
  const services = fakeNodes(failOn);
  const step = createRepointDatabaseStep({
    nodeNames: NODES,
    ports: { inventory: current, targetDatabase: next, services },
    connection: { moveTo: NEW, current: OLD },
    facts,
    commandShown: "Octopus.Server.exe database --instance=OctopusServer --connectionString=***",
    showConfigurationShown: "Octopus.Server.exe show-configuration --instance=OctopusServer --format=json",
  });
  return { facts, current, next, services, step };
}

const noSecret = (value: unknown) => {
  const text = JSON.stringify(value);
  for (const secret of ["Pa55word", OLD, NEW]) expect(text).not.toContain(secret);
};

describe("repoint-database", () => {
  it("compares, then points every node at the new database, journaling each node and never a connection string", async () => {
    const { step, services } = setUp();
    const ctx = recordingContext("repoint-database");
    const r = await step.apply(ctx, undefined);
    expect(services.config).toEqual({ OCTO1: NEW, OCTO2: NEW, OCTO3: NEW });
    expect(r.nodes).toEqual({ OCTO1: "written", OCTO2: "written", OCTO3: "written" });
    expect(r.checks.every((c) => c.passed)).toBe(true);
    expect(r.to).toEqual({ server: "ag-listener", database: "Octopus" });
    expect((await step.verify(ctx, r)).ok).toBe(true);
    noSecret(ctx.checkpoints);
    noSecret(ctx.events);
    // The first checkpoint is the comparison, before any node was touched.
    expect((ctx.checkpoints[0] as RepointResult).nodes).toEqual({});
  });

  it.each([
    ["one table short", (s: DatabaseSnapshot) => s.tables.splice(s.tables.indexOf("Event"), 1), /missing Event/],
    [
      "an older schema",
      (s: DatabaseSnapshot) => (s.schemaVersion = { id: 40, script: "Script2024.1.sql" }),
      /schema version differs: current #42/,
    ],
    ["another installation", (s: DatabaseSnapshot) => (s.identity = { ...s.identity!, digest: "ffff" }), /installation differs/],
    ["missing rows", (s: DatabaseSnapshot) => (s.rowCounts.ServerTask = 97), /rows in ServerTask differ: current 100, target 97/],
  ])("refuses %s (exit 3) before any node is changed, naming the difference and the fix", async (_name, edit, why) => {
    const { step, services } = setUp(snapshot(edit));
    const ctx = recordingContext("repoint-database");
    const error = await failure(step.apply(ctx, undefined));
    expect(error.code).toBe("DB_MOVE_NOT_FAITHFUL");
    expect(error.exitCode).toBe(3);
    expect(error.message).toContain("no node was changed");
    expect(error.hint).toMatch(why);
    expect(error.hint).toContain("backup of the current database taken after the services stopped");
    expect(services.calls).toEqual([]);
    expect(ctx.checkpoints).toEqual([]);
  });

  it("resumed after failing on the second node, writes only the nodes not yet written", async () => {
    const { step, services } = setUp(snapshot(), "OCTO2");
    const ctx = recordingContext("repoint-database");
    await expect(step.apply(ctx, undefined)).rejects.toThrow(/OCTO2/);
    const last = ctx.checkpoints.at(-1) as RepointResult;
    expect(last.nodes).toEqual({ OCTO1: "written", OCTO2: "writing" });
    const r = await step.apply(recordingContext("repoint-database"), last);
    expect(services.calls).toEqual(["OCTO1", "OCTO2", "OCTO2", "OCTO3"]);
    expect(r.nodes).toEqual({ OCTO1: "written", OCTO2: "written", OCTO3: "written" });
    expect(services.config).toEqual({ OCTO1: NEW, OCTO2: NEW, OCTO3: NEW });
  });

  it("resumed after its comparison, compares again before writing a node: a row Octopus wrote since stops it (exit 3)", async () => {
    const { step, services, current } = setUp();
    const ctx = recordingContext("repoint-database");
    await step.apply(ctx, undefined);
    // Killed after the comparison and OCTO1's write; then a node started by hand wrote a task into the current database.
    const killedAt = { ...(ctx.checkpoints[0] as RepointResult), nodes: { OCTO1: "written" as const } };
    const grown = snapshot((s) => (s.rowCounts.ServerTask = 101));
    (current as unknown as { snapshot: () => Promise<DatabaseSnapshot> }).snapshot = async () => grown;
    services.calls.length = 0;
    const resumed = recordingContext("repoint-database");
    const error = await failure(step.apply(resumed, killedAt));
    expect(error.code).toBe("DB_MOVE_NOT_FAITHFUL");
    expect(error.exitCode).toBe(3);
    expect(error.hint).toContain("rows in ServerTask differ: current 101, target 100");
    expect(error.message).toContain("OCTO1 already name(s) it");
    expect(error.message).toContain("no other node was changed");
    expect(services.calls).toEqual([]);
    expect(resumed.checkpoints).toEqual([]);
  });

  it("resumed with a node running again, refuses (exit 3) before comparing or writing, naming the node", async () => {
    const { step, services } = setUp();
    const ctx = recordingContext("repoint-database");
    await step.apply(ctx, undefined);
    const killedAt = { ...(ctx.checkpoints[0] as RepointResult), nodes: {} };
    services.calls.length = 0;
    services.state = async (n) => (n === "OCTO2" ? "running" : "stopped");
    const error = await failure(step.apply(recordingContext("repoint-database"), killedAt));
    expect(error.code).toBe("DB_MOVE_NODE_RUNNING");
    expect(error.exitCode).toBe(3);
    expect(error.message).toContain("OCTO2 is running");
    expect(services.calls).toEqual([]);
  });

  it("resumed with nodes running again, names per node the database it is configured for: written → target, writing → check it, not yet → current", async () => {
    const { step, services } = setUp();
    const ctx = recordingContext("repoint-database");
    await step.apply(ctx, undefined);
    const killedAt = { ...(ctx.checkpoints[0] as RepointResult), nodes: { OCTO1: "written" as const, OCTO2: "writing" as const } };
    services.calls.length = 0;
    services.state = async () => "running";
    const error = await failure(step.apply(recordingContext("repoint-database"), killedAt));
    expect(error.code).toBe("DB_MOVE_NODE_RUNNING");
    expect(error.exitCode).toBe(3);
    const lines = error.hint.split("\n");
    expect(lines[0]).toBe(
      "- OCTO1 names the target database (Octopus on ag-listener): this run wrote it before the stop, so it writes into the target, not the current database.",
    );
    expect(lines[1]).toContain(
      "OCTO2: its `database` command was cut off or failed in this run, so it names Octopus on sql01 or Octopus on ag-listener: octoha cannot tell which.",
    );
    expect(lines[1]).toContain(
      "On OCTO2, run `Octopus.Server.exe show-configuration --instance=OctopusServer --format=json` and read Octopus.Storage.ExternalDatabaseConnectionString",
    );
    expect(lines[2]).toBe(
      "- OCTO3 names the current database (Octopus on sql01), not yet written by this run: it writes into the current database, so the restore would fall behind it.",
    );
    expect(error.hint).not.toContain("A node running now writes into the current database");
    expect(services.calls).toEqual([]);
  });

  it("resumed with nothing changed since, compares again and writes only the nodes not yet written", async () => {
    const { step, services, next } = setUp();
    const ctx = recordingContext("repoint-database");
    await step.apply(ctx, undefined);
    const killedAt = { ...(ctx.checkpoints[0] as RepointResult), nodes: { OCTO1: "written" as const } };
    services.calls.length = 0;
    next.beats.OCTO1 = "2026-12-04T20:30:00.000Z"; // OCTO1 started on the target by hand, then stopped again
    const resumed = recordingContext("repoint-database");
    const r = await step.apply(resumed, killedAt);
    expect(services.calls).toEqual(["OCTO2", "OCTO3"]);
    expect(r.nodes).toEqual({ OCTO1: "written", OCTO2: "written", OCTO3: "written" });
    // The new comparison (and its heartbeats) is journaled before the first write.
    expect(resumed.checkpoints[0]).toMatchObject({ nodes: { OCTO1: "written" }, heartbeatsBefore: { OCTO1: "2026-12-04T20:30:00.000Z" } });
  });

  it("a resume whose moveTo now names another database is refused with exit 2", async () => {
    const { step } = setUp();
    const ctx = recordingContext("repoint-database");
    const r = await step.apply(ctx, undefined);
    const moved = { ...r, to: { server: "elsewhere", database: "Octopus" } };
    await expect(step.apply(recordingContext("repoint-database"), moved)).rejects.toMatchObject({
      code: "DB_MOVE_TARGET_CHANGED",
      exitCode: 2,
    });
  });

  it("rollback writes the old connection string back on every node it changed, also one left half-written", async () => {
    const { step, services } = setUp(snapshot(), "OCTO2");
    const ctx = recordingContext("repoint-database");
    await expect(step.apply(ctx, undefined)).rejects.toThrow();
    const last = ctx.checkpoints.at(-1) as RepointResult;
    services.config.OCTO2 = NEW; // the command may have saved before it failed
    services.calls.length = 0;
    await step.rollback(recordingContext("repoint-database"), last);
    expect(services.calls).toEqual(["OCTO2", "OCTO1"]);
    expect(services.config).toEqual({ OCTO1: OLD, OCTO2: OLD, OCTO3: OLD });
  });

  it("rollback puts back every node it can when one node's command keeps failing, and says which were put back, which not, and which never changed", async () => {
    const { step, services } = setUp(snapshot(), "OCTO2");
    const ctx = recordingContext("repoint-database");
    await expect(step.apply(ctx, undefined)).rejects.toThrow();
    const last = ctx.checkpoints.at(-1) as RepointResult;
    expect(last.nodes).toEqual({ OCTO1: "written", OCTO2: "writing" });
    const setOne = services.setConnectionString!.bind(services);
    services.setConnectionString = async (node, cs) => {
      if (node === "OCTO2")
        throw new OctohaError("Node OCTO2: Octopus.Server.exe database exited with code 1", {
          code: "NODE_CONTROL_FAILED",
          hint: 'Try it by hand from this machine: /opt/octo2/server database --instance=OctopusServer "--connectionString=***"',
        });
      return setOne(node, cs);
    };
    const undo = recordingContext("repoint-database");
    const error = (await step.rollback(undo, last).catch((e: unknown) => e)) as { code: string; message: string; hint: string };
    expect(error.code).toBe("DB_MOVE_ROLLBACK_FAILED");
    // OCTO1 was put back although OCTO2 failed first (newest first).
    expect(services.config.OCTO1).toBe(OLD);
    expect(error.message).toBe("OCTO2 could not be pointed back at Octopus on sql01; put back: OCTO1; never changed by the run: OCTO3");
    expect(error.hint).toContain(
      "OCTO2 (its `database` command failed or was cut off in the run, so it names Octopus on sql01 or Octopus on ag-listener",
    );
    expect(error.hint).toContain("started no node");
    expect(error.hint).toContain(
      'Try it by hand from this machine: /opt/octo2/server database --instance=OctopusServer "--connectionString=***"',
    );
    expect(error.hint).toContain("*** stands for the connection string the nodes used before the run");
    expect(error.hint).not.toContain("on each by hand");
    expect(undo.events.map((e) => e.message)).toContain("OCTO1 names Octopus on sql01 again (takes effect when it starts)");
  });

  it("the dry-run preview names every node's change and the checks it would run, without a connection string", async () => {
    const { step, services } = setUp();
    const preview = await step.inspect(recordingContext("repoint-database"));
    expect(preview.changes.map((c) => c.summary)).toEqual(
      NODES.map((n) => expect.stringContaining(`${n}: Octopus on sql01 → Octopus on ag-listener`)),
    );
    expect(String(preview.facts?.checks)).toMatch(/schema version.*installation identity.*row counts of ServerTask/);
    noSecret(preview);
    expect(services.calls).toEqual([]);
  });
});

describe("verify-database", () => {
  it("passes once every node's LastSeen advanced in the new database", async () => {
    const { step, facts, next } = setUp();
    await step.apply(recordingContext("repoint-database"), undefined);
    const clock = fakeClock(Date.parse("2026-12-04T21:00:00Z"));
    const verify = createVerifyDatabaseStep({
      nodeNames: NODES,
      ports: { inventory: setUp().current, targetDatabase: next },
      facts,
      clock,
      timeoutMs: 60_000,
    });
    let polls = 0;
    const original = next.heartbeats!.bind(next);
    next.heartbeats = async () => {
      // Each poll one more node heartbeats into the new database.
      const node = NODES[polls++];
      if (node) next.beats[node] = "2026-12-04T21:00:10.000Z";
      return original();
    };
    const r = await verify.apply(recordingContext("verify-database", clock), undefined);
    expect(Object.keys(r.proven)).toEqual(NODES);
    expect((await verify.verify(recordingContext("verify-database"), r)).ok).toBe(true);
  });

  it("fails at its deadline naming the nodes still on the old database", async () => {
    const { step, facts, next, current } = setUp();
    await step.apply(recordingContext("repoint-database"), undefined);
    next.beats.OCTO1 = "2026-12-04T21:00:10.000Z";
    next.beats.OCTO2 = "2026-12-04T21:00:10.000Z";
    current.beats.OCTO3 = "2026-12-04T21:00:12.000Z"; // OCTO3 still heartbeats into the old one
    const clock = fakeClock();
    const verify = createVerifyDatabaseStep({
      nodeNames: NODES,
      ports: { inventory: current, targetDatabase: next },
      facts,
      clock,
      timeoutMs: 10_000,
    });
    const error = await failure(verify.apply(recordingContext("verify-database", clock), undefined));
    expect(error.code).toBe("DB_MOVE_NOT_VERIFIED");
    expect(error.message).toContain("OCTO3");
    expect(error.message).not.toContain("OCTO1");
    expect(error.hint).toContain(
      "OCTO3: LastSeen in the new database 2026-12-04T20:00:00.000Z; in the old database 2026-12-04T21:00:12.000Z",
    );
  });
});
