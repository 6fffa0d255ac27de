/** `octoha standin`: run the local Octopus stand-in until SIGINT/SIGTERM (see README, "The Octopus stand-in"). */
import type { Command } from "commander";
import { ExitCode } from "../../shared/exit-codes.js";
import { loadStandin, type StandinModule } from "../load-standin.js";
import { reportError } from "../output.js";

interface StandinFlags {
  nodes: string;
  data: string;
  version?: string;
  schema: string;
  seedTasks: string;
  taskDurationMs: string;
  startupMs: string;
  port: string;
  databaseHa?: string;
  restoreDatabase: string[];
  restoreDatabaseHa?: string;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command("standin")
    .description(
      "Run a simulated Octopus Server cluster on 127.0.0.1 (REST API, octopus-server executable, SQL Server over TDS) for tests and rehearsals. Prints its URLs, API key and SQL connection string as one JSON line on stdout.",
    )
    .requiredOption("--data <dir>", "folder for the nodes' simulated disks, the shared folder and the control file")
    .option("--nodes <n>", "number of nodes (OCTO1…OCTOn)", "2")
    .option("--version <v>", "Octopus version to simulate, e.g. 2024.1.12345")
    .option("--schema <s>", "database schema spelling: 3.x or 2018+", "2018+")
    .option("--seed-tasks <k>", "completed tasks (with logs, artifacts, packages) to seed per node", "0")
    .option("--task-duration-ms <ms>", "how long a queued task runs once picked up", "30000")
    .option("--startup-ms <ms>", "how long a started node answers 503 before it serves requests", "2000")
    .option("--port <port>", "port of the load-balanced URL (0 = any free port)", "0")
    .option(
      "--database-ha <config>",
      "how highly available the SQL endpoint claims the database is: standalone, failover-cluster-instance, availability-group, " +
        "availability-group-multi-subnet, azure-sql-database, managed-instance, mirroring, log-shipping, published, " +
        "no-view-server-state (default: $OCTOHA_STANDIN_DB_HA, else standalone)",
    )
    .option(
      "--restore-database <name[:variant]>",
      "also serve a restore of the cluster's database on its own SQL listener, to rehearse a database move; variant " +
        "faithful (default), table-short, older-schema or other-installation; repeatable",
      (value: string, all: string[]) => [...all, value],
      [] as string[],
    )
    .option("--restore-database-ha <config>", "how highly available the restores' server claims to be (default availability-group)")
    .option("--json", "print only the JSON line (no human summary on stderr)")
    .action(async (flags: StandinFlags) => {
      const nodes = Number(flags.nodes);
      const seedTasks = Number(flags.seedTasks);
      const problems = [
        Number.isInteger(nodes) && nodes >= 1 && nodes <= 16
          ? undefined
          : `--nodes must be a whole number from 1 to 16, not ${flags.nodes}`,
        Number.isInteger(seedTasks) && seedTasks >= 0 ? undefined : `--seed-tasks must be a whole number, not ${flags.seedTasks}`,
        flags.schema === "3.x" || flags.schema === "2018+" ? undefined : `--schema must be 3.x or 2018+, not ${flags.schema}`,
        Number.isInteger(Number(flags.startupMs)) && Number(flags.startupMs) >= 0
          ? undefined
          : `--startup-ms must be a whole number, not ${flags.startupMs}`,
        flags.version === undefined || /^\d+(\.\d+)+$/.test(flags.version)
          ? undefined
          : `--version must look like 2024.1.12345, not ${flags.version}`,
        ...flags.restoreDatabase.map((r) =>
          /^[A-Za-z][A-Za-z0-9_-]*(:[a-z-]+)?$/.test(r) ? undefined : `--restore-database must be NAME or NAME:VARIANT, not ${r}`,
        ),
      ].filter((p): p is string => p !== undefined);
      if (problems.length > 0) {
        process.stderr.write(`octoha standin: ${problems.join("\n  ")}\n`);
        process.exitCode = ExitCode.BadInput;
        return;
      }
      let startStandin: StandinModule["startStandin"];
      try {
        ({ startStandin } = await loadStandin());
      } catch (error) {
        process.exitCode = reportError(error, flags.json === true, "standin");
        return;
      }
      const standin = await startStandin({
        dataDir: flags.data,
        nodes,
        version: flags.version,
        schema: flags.schema === "3.x" ? "3.x" : "2018+",
        seedTasks,
        taskDurationMs: Number(flags.taskDurationMs),
        startupMs: Number(flags.startupMs),
        port: Number(flags.port),
        databaseHa: flags.databaseHa ?? (process.env.OCTOHA_STANDIN_DB_HA || undefined),
        // The stand-in's own throwaway key; a fixed one may come from the environment, never argv.
        apiKey: process.env.OCTOHA_STANDIN_API_KEY || undefined,
      });
      try {
        for (const r of flags.restoreDatabase) {
          const [name, variant] = r.split(":");
          await standin.restoreDatabase({ name: name!, variant, databaseHa: flags.restoreDatabaseHa });
        }
      } catch (error) {
        await standin.close();
        process.stderr.write(`octoha standin: --restore-database: ${error instanceof Error ? error.message : String(error)}\n`);
        process.exitCode = ExitCode.BadInput;
        return;
      }
      const details = {
        url: standin.url,
        nodes: standin.nodes,
        apiKey: standin.apiKey,
        sqlConnectionString: standin.sqlConnectionString ?? null,
        // The cluster's database first, then the restores: the stand-in's own throwaway logins.
        databases: standin.databases(),
        controlUrl: standin.controlUrl,
        controlFile: standin.controlFile,
        serverExe: standin.serverExe,
        serverExeArgv: standin.serverExeArgv,
        localMachine: standin.localMachine,
        version: standin.cluster.version,
        dataDir: standin.dataDir,
      };
      // stdout is the machine-readable connection details, always; the human summary goes to stderr.
      process.stdout.write(`${JSON.stringify(details)}\n`);
      if (!flags.json)
        process.stderr.write(
          `Octopus stand-in ${details.version} at ${details.url}\n${details.nodes.map((n) => `  node ${n.name}: ${n.url}`).join("\n")}\n  API key: ${details.apiKey}\n  octopus-server: ${details.serverExe} (on ${details.localMachine})\n  SQL: ${details.sqlConnectionString ?? "not built in"}\n${details.databases
            .slice(1)
            .map((d) => `  restored database ${d.name} (${d.databaseHa}): ${d.connectionString}\n`)
            .join("")}Press Ctrl+C to stop.\n`,
        );
      await new Promise<void>((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      });
      await standin.close();
      process.exitCode = ExitCode.Done;
    });
}
