/**
 * `check` and the dry-run report (Markdown, HTML, JSON) say whether the Octopus database is highly
 * available, for every configuration the stand-in's SQL endpoint can claim; a denied DMV is "unknown"
 * with the grant and changes no exit code; the connection string and its password appear nowhere.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { demoPlan } from "../../src/demo/demo.js";
import { startStandin, type DatabaseHaConfiguration } from "@octoha/standin";
import { cleanEnv, runCli } from "../helpers/cli.js";
import { resultOf } from "../helpers/envelope.js";

interface Case {
  config: DatabaseHaConfiguration;
  code: string;
  severity: "info" | "warning" | "error";
  /** Text of the finding's summary, free of characters HTML escapes. */
  text: string;
  checkExit: number;
}

const CASES: Case[] = [
  { config: "standalone", code: "DB_HA_STANDALONE", severity: "warning", text: "single point of failure for every node", checkExit: 0 },
  {
    config: "failover-cluster-instance",
    code: "DB_HA_KIND",
    severity: "info",
    text: "HA: SQL Server failover cluster instance",
    checkExit: 0,
  },
  { config: "availability-group", code: "DB_HA_KIND", severity: "info", text: "HA: Always On availability group", checkExit: 0 },
  {
    config: "availability-group-multi-subnet",
    code: "DB_HA_MULTISUBNET",
    severity: "warning",
    text: "lacks MultiSubnetFailover=True",
    checkExit: 0,
  },
  { config: "azure-sql-database", code: "DB_HA_KIND", severity: "info", text: "HA: Azure SQL Database", checkExit: 0 },
  { config: "managed-instance", code: "DB_HA_KIND", severity: "info", text: "HA: Azure SQL Managed Instance", checkExit: 0 },
  { config: "mirroring", code: "DB_HA_MIRRORING", severity: "warning", text: "uses database mirroring", checkExit: 0 },
  { config: "log-shipping", code: "DB_HA_LOG_SHIPPING", severity: "warning", text: "is a log shipping primary", checkExit: 0 },
  { config: "published", code: "DB_HA_REPLICATION", severity: "error", text: "published for SQL Server replication", checkExit: 1 },
  {
    config: "no-view-server-state",
    code: "DB_HA_UNKNOWN",
    severity: "info",
    text: "GRANT VIEW SERVER STATE TO [octoha_reader];",
    checkExit: 0,
  },
];

type Report = { results: { id: string; findings: { code: string; severity: string; summary: string; fix?: string }[] }[] };

// Each case has its own stand-in and temp dir, closed when it ends: the cases run concurrently.
describe.concurrent("database HA findings in check and the dry-run report", () => {
  for (const c of CASES)
    it(`${c.config}: ${c.severity} ${c.code}`, async ({ onTestFinished }) => {
      const dir = await mkdtemp(path.join(os.tmpdir(), "octoha-dbha-"));
      onTestFinished(() => rm(dir, { recursive: true, force: true }));
      const standin = await startStandin({ dataDir: path.join(dir, "cluster"), nodes: 2, clock: "manual", databaseHa: c.config });
      onTestFinished(() => standin.close());
      const planFile = path.join(dir, "plan.json");
      await writeFile(planFile, JSON.stringify(demoPlan(standin, path.join(dir, "state"))));
      const connectionString = standin.sqlConnectionString!;
      const password = /Password=([^;]+)/i.exec(connectionString)![1]!;
      const env = cleanEnv({ OCTOHA_DEMO_API_KEY: standin.apiKey, OCTOHA_DEMO_SQL_CONNECTION_STRING: connectionString });

      const check = await runCli(["check", planFile, "--json"], { env });
      expect(check.code, check.stdout + check.stderr).toBe(c.checkExit);
      const findings = resultOf<Report>(check.stdout, "check", c.checkExit).results.find((r) => r.id === "preflight")!.findings;
      const found = findings.find((f) => f.code === c.code);
      expect(found, JSON.stringify(findings)).toMatchObject({ severity: c.severity });
      expect(`${found!.summary} ${found!.fix ?? ""}`).toContain(c.text);
      if (c.config !== "standalone" && c.config !== "mirroring" && c.config !== "log-shipping" && c.config !== "published")
        expect(findings.map((f) => f.code)).not.toContain("DB_HA_STANDALONE");

      const outputs = [check.stdout, check.stderr];
      // The three dry-runs only read: they run side by side, each writing its own report file.
      const formats = ["md", "html", "json"] as const;
      const runs = await Promise.all(
        formats.map(async (format) => {
          const out = path.join(dir, `report.${format === "json" ? "changes.json" : format}`);
          const r = await runCli(["dry-run", planFile, "--format", format, "--out", out], { env });
          return { format, r, text: await readFile(out, "utf8") };
        }),
      );
      for (const { format, r, text } of runs) {
        expect([0, 1], r.stdout + r.stderr).toContain(r.code);
        outputs.push(text, r.stdout, r.stderr);
        expect(text, `${format} report`).toContain(format === "json" ? c.code : c.text);
        if (format === "json") expect(text).toContain(JSON.stringify(c.text).slice(1, -1));
      }
      for (const o of outputs) {
        expect(o).not.toContain(connectionString);
        expect(o).not.toContain(password);
      }
    });
});
