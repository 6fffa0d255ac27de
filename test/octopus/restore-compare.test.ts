/**
 * The faithful-restore comparison: read-only SELECTs on both databases, one check per property, each
 * difference naming the table and both values. Against a scripted reader, and through the real mssql
 * driver against the stand-in's SQL endpoint (so every query is one the stand-in answers).
 */
import { afterEach, describe, expect, it } from "vitest";
import { startTestStandin, type TestStandin } from "@octoha/standin/testing";
import type { SqlReader } from "../../src/octopus/sql/ha-probe.js";
import { createInventory } from "../../src/octopus/sql/inventory.js";
import {
  compareSnapshots,
  readHeartbeats,
  readSnapshot,
  RESTORE_SQL,
  restoreDifferences,
  type DatabaseSnapshot,
} from "../../src/octopus/sql/restore-compare.js";
import { restoreFindings } from "../../src/steps/database-move.js";

/** A database as rows per table; answers exactly the comparison's SQL texts and records what was sent. */
function scriptedDatabase(tables: Record<string, Record<string, unknown>[]>): SqlReader & { sent: string[] } {
  const sent: string[] = [];
  return {
    sent,
    async rows<T>(text: string): Promise<T[]> {
      sent.push(text);
      if (text === RESTORE_SQL.tables) return Object.keys(tables).map((t) => ({ TABLE_NAME: t.toUpperCase() })) as T[];
      const count = /^SELECT COUNT\(\*\) AS \[Rows\] FROM \[dbo\]\.\[(\w+)\]$/.exec(text);
      if (count) return [{ Rows: tables[count[1]!]!.length }] as T[];
      if (text === RESTORE_SQL.schemaVersion)
        return [...tables.SchemaVersions!].sort((a, b) => Number(b.Id) - Number(a.Id)).slice(0, 1) as T[];
      if (text === RESTORE_SQL.installations) return tables.OctopusServerInstallationHistory as T[];
      if (text === RESTORE_SQL.heartbeats("OctopusServerNode")) return tables.OctopusServerNode as T[];
      throw new Error(`unexpected SQL: ${text}`);
    },
  };
}

const rows = (n: number, make: (i: number) => Record<string, unknown> = (i) => ({ Id: `x-${i}` })) =>
  Array.from({ length: n }, (_, i) => make(i));

function octopusDatabase(edit: (t: Record<string, Record<string, unknown>[]>) => void = () => {}) {
  const t: Record<string, Record<string, unknown>[]> = {
    ServerTask: rows(120),
    OctopusServerNode: [
      { Name: "OCTO1", LastSeen: new Date("2026-12-04T20:00:00Z") },
      { Name: "OCTO2", LastSeen: new Date("2026-12-04T20:00:05Z") },
    ],
    NuGetPackage: rows(7),
    Event: rows(300),
    SchemaVersions: [
      { Id: 1, ScriptName: "Script0001.sql" },
      { Id: 2, ScriptName: "Script2024.2.sql" },
    ],
    OctopusServerInstallationHistory: [{ Id: "h-1", Installed: new Date("2020-01-01T00:00:00Z"), Node: "OCTO1", Version: "2024.2.1" }],
  };
  edit(t);
  return scriptedDatabase(t);
}

const compare = async (current: SqlReader, target: SqlReader) => compareSnapshots(await readSnapshot(current), await readSnapshot(target));

describe("the faithful-restore comparison", () => {
  it("passes every check for an identical restore, and sends only SELECTs", async () => {
    const current = octopusDatabase();
    const target = octopusDatabase();
    const checks = await compare(current, target);
    expect(checks.map((c) => [c.check, c.passed])).toEqual([
      ["tables", true],
      ["schema version", true],
      ["installation identity", true],
      ["rows in ServerTask", true],
      ["rows in OctopusServerNode", true],
      ["rows in NuGetPackage", true],
      ["rows in Event", true],
      ["rows in SchemaVersions", true],
      ["rows in OctopusServerInstallationHistory", true],
    ]);
    expect(restoreDifferences(checks)).toEqual([]);
    for (const text of [...current.sent, ...target.sent]) expect(text).toMatch(/^SELECT /);
  });

  it("a restore one table short names the table", async () => {
    const checks = await compare(
      octopusDatabase(),
      octopusDatabase((t) => delete t.Event),
    );
    expect(restoreDifferences(checks)).toEqual([
      { kind: "table-missing", current: expect.stringContaining("Event"), target: "missing Event" },
    ]);
  });

  it("an older schema names both versions", async () => {
    const checks = await compare(
      octopusDatabase(),
      octopusDatabase((t) => t.SchemaVersions!.pop()),
    );
    expect(restoreDifferences(checks)).toEqual([
      { kind: "schema-version", current: "#2 Script2024.2.sql", target: "#1 Script0001.sql" },
      { kind: "row-count", table: "SchemaVersions", current: "2", target: "1", ahead: "current" },
    ]);
  });

  it("another installation (its history differs) is told apart even with equal counts", async () => {
    const other = octopusDatabase((t) => (t.OctopusServerInstallationHistory![0]!.Installed = new Date("2021-06-01T00:00:00Z")));
    const [d] = restoreDifferences(await compare(octopusDatabase(), other));
    expect(d).toEqual({ kind: "identity", current: expect.stringContaining("2020-01-01"), target: expect.stringContaining("2021-06-01") });
  });

  it("missing rows name the table and both counts; live they are information, after the stop an error", async () => {
    const checks = await compare(
      octopusDatabase(),
      octopusDatabase((t) => t.ServerTask!.splice(0, 3)),
    );
    expect(restoreDifferences(checks)).toEqual([
      { kind: "row-count", table: "ServerTask", current: "120", target: "117", ahead: "current" },
    ]);
    const live = restoreFindings(checks, true).find((f) => f.code === "DB_MOVE_ROW_COUNT")!;
    const stopped = restoreFindings(checks, false).find((f) => f.code === "DB_MOVE_ROW_COUNT")!;
    expect([live.severity, stopped.severity]).toEqual(["info", "error"]);
    expect(stopped.summary).toContain("rows in ServerTask differ: current 120, target 117");
    expect(stopped.fix).toContain("backup of the current database taken after the services stopped");
  });

  it("reads each node's heartbeat, and says unknown when the schema has no LastSeen there (error 207)", async () => {
    expect(await readHeartbeats(octopusDatabase(), ["OctopusServerNode"])).toEqual({
      OCTO1: "2026-12-04T20:00:00.000Z",
      OCTO2: "2026-12-04T20:00:05.000Z",
    });
    const no207: SqlReader = { rows: () => Promise.reject(Object.assign(new Error("Invalid column name 'LastSeen'."), { number: 207 })) };
    expect(await readHeartbeats(no207, ["OctopusServerNode"])).toBeUndefined();
  });
});

let standin: TestStandin | undefined;
afterEach(async () => {
  await standin?.close();
  standin = undefined;
});

describe("the comparison through mssql against the stand-in's SQL endpoint", () => {
  it("reads the schema version, identity, counts and heartbeats of the stand-in's database", async () => {
    standin = await startTestStandin({ sql: true, version: "2024.2.1000" });
    standin.cluster.seedHistory({ tasksPerNode: 4, packagesPerNode: 2 });
    const inventory = createInventory(standin.sqlConnectionString!);
    try {
      const snapshot: DatabaseSnapshot = await inventory.snapshot!();
      expect(snapshot.tables).toEqual(expect.arrayContaining(["ServerTask", "OctopusServerNode", "NuGetPackage", "SchemaVersions"]));
      expect(snapshot.rowCounts.ServerTask).toBe(standin.cluster.state().tasks.length);
      expect(snapshot.schemaVersion?.script).toContain("2024.2.1000");
      expect(snapshot.identity?.installs).toBeGreaterThan(0);
      // The database compared with itself matches in every check but one: it is not another database.
      const checks = compareSnapshots(snapshot, await inventory.snapshot!());
      expect(checks.filter((c) => !c.passed).map((c) => c.check)).toEqual(["another database"]);
      expect(snapshot.location).toMatchObject({ serverName: "SQL-OCTOPUS", databaseName: "Octopus", databaseId: 5 });
      const beats = await inventory.heartbeats!();
      expect(Object.keys(beats ?? {}).sort()).toEqual(
        standin.cluster
          .state()
          .nodes.map((n) => n.name)
          .sort(),
      );
    } finally {
      await inventory.close();
    }
  });
});
