/**
 * The database HA probe, through the real mssql driver, against every configuration the stand-in's
 * SQL endpoint can claim: each gives its finding, and a denied DMV is "unknown" with the grant.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createInventory } from "../../src/octopus/sql/inventory.js";
import { databaseHaFindings } from "../../src/steps/database-ha.js";
import type { DatabaseHaConfiguration } from "@octoha/standin";
import { startTestStandin, type TestStandin } from "@octoha/standin/testing";

let standin: TestStandin | undefined;
afterEach(async () => {
  await standin?.close();
  standin = undefined;
});

const CASES: { config: DatabaseHaConfiguration; codes: string[]; summary: RegExp }[] = [
  { config: "standalone", codes: ["DB_HA_STANDALONE"], summary: /single point of failure for every node/ },
  { config: "failover-cluster-instance", codes: ["DB_HA_KIND"], summary: /^HA: SQL Server failover cluster instance$/ },
  // The stand-in's connection string names 127.0.0.1, not the listener: that is a finding on its own.
  {
    config: "availability-group",
    codes: ["DB_HA_KIND", "DB_HA_NOT_LISTENER"],
    summary: /^HA: Always On availability group "OctopusAG", 3 replicas \(2 synchronous-commit\)$/,
  },
  {
    config: "availability-group-multi-subnet",
    codes: ["DB_HA_KIND", "DB_HA_NOT_LISTENER", "DB_HA_MULTISUBNET"],
    summary: /^HA: Always On availability group/,
  },
  { config: "azure-sql-database", codes: ["DB_HA_KIND"], summary: /^HA: Azure SQL Database/ },
  { config: "managed-instance", codes: ["DB_HA_KIND"], summary: /^HA: Azure SQL Managed Instance/ },
  { config: "mirroring", codes: ["DB_HA_STANDALONE", "DB_HA_MIRRORING"], summary: /database mirroring/ },
  { config: "log-shipping", codes: ["DB_HA_STANDALONE", "DB_HA_LOG_SHIPPING"], summary: /log shipping primary/ },
  { config: "published", codes: ["DB_HA_STANDALONE", "DB_HA_REPLICATION"], summary: /published for SQL Server replication/ },
];

describe("the database HA probe against the stand-in", () => {
  for (const c of CASES)
    it(`${c.config}: ${c.codes.join(", ")}`, async () => {
      standin = await startTestStandin({ sql: true, databaseHa: c.config });
      const inventory = createInventory(standin.sqlConnectionString!);
      try {
        const facts = await inventory.databaseHa!();
        expect(facts.unknown).toEqual([]);
        const findings = databaseHaFindings(facts);
        expect(findings.map((f) => f.code)).toEqual(c.codes);
        expect(findings.some((f) => c.summary.test(f.summary))).toBe(true);
        if (c.config === "published") expect(findings.find((f) => f.code === "DB_HA_REPLICATION")?.severity).toBe("error");
      } finally {
        await inventory.close();
      }
    });

  it("a connection string that names the listener by one of its IP addresses is the listener", async () => {
    standin = await startTestStandin({ sql: true, databaseHa: "availability-group-multi-subnet" });
    const inventory = createInventory(standin.sqlConnectionString!);
    try {
      const facts = await inventory.databaseHa!();
      expect(facts.availabilityGroup?.listeners).toEqual([{ dnsName: "octopus-ag", subnets: 2, ipAddresses: ["10.0.1.50", "10.0.2.50"] }]);
      for (const server of ["10.0.2.50", "tcp:10.0.1.50,1433", "octopus-ag.corp.example"]) {
        const codes = databaseHaFindings({ ...facts, connection: { ...facts.connection, server } }).map((f) => f.code);
        expect(codes, server).toEqual(["DB_HA_KIND", "DB_HA_MULTISUBNET"]);
      }
      const other = databaseHaFindings({ ...facts, connection: { ...facts.connection, server: "10.0.3.50" } }).map((f) => f.code);
      expect(other).toContain("DB_HA_NOT_LISTENER");
    } finally {
      await inventory.close();
    }
  });

  it("a login without VIEW SERVER STATE: 'unknown' with the GRANT naming the login, no kind claimed", async () => {
    standin = await startTestStandin({ sql: true, databaseHa: "no-view-server-state" });
    const inventory = createInventory(standin.sqlConnectionString!);
    try {
      const facts = await inventory.databaseHa!();
      expect(facts.kind).toBeUndefined();
      expect(facts.unknown).toEqual([
        {
          probe: "availabilityGroup",
          reason: expect.stringMatching(/permission denied \(SQL Server error .*300/),
          grant: expect.any(String),
        },
      ]);
      const findings = databaseHaFindings(facts);
      const unknown = findings.find((f) => f.code === "DB_HA_UNKNOWN")!;
      expect(unknown.severity).toBe("info");
      expect(unknown.fix).toContain("GRANT VIEW SERVER STATE TO [octoha_reader];");
      expect(findings.map((f) => f.code)).not.toContain("DB_HA_STANDALONE");
    } finally {
      await inventory.close();
    }
  });

  it("refuses an unknown configuration before starting anything", async () => {
    await expect(startTestStandin({ sql: true, databaseHa: "raid-5" })).rejects.toThrow(/databaseHa is "raid-5"; use one of: standalone/);
  });
});
