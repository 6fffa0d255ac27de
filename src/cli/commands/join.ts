import { InvalidArgumentError, Option, type Command } from "commander";
import { joinPrint, renderJoinPrint } from "../../join/index.js";
import type { JoinPlatform } from "../../join/commands.js";
import { InputError } from "../../shared/errors.js";
import { ExitCode } from "../../shared/exit-codes.js";
import { addOutputOptions, out, runVerb, wantsJson, type OutputFlags } from "../output.js";

interface JoinFlags extends OutputFlags {
  plan: string;
  print?: boolean;
  platform?: JoinPlatform;
  url?: string;
  commsPort?: number;
  home?: string;
  config?: string;
  serverExe?: string;
  masterKeyEnv?: string;
  connectionStringEnv?: string;
  offline?: boolean;
}

const port = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new InvalidArgumentError("expected a port from 1 to 65535.");
  return n;
};

const envName = (value: string): string => {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(value)) throw new InvalidArgumentError("expected an environment variable name.");
  return value;
};

export function register(program: Command): void {
  const command = program
    .command("join")
    .description("Add a node to the cluster: with --print, the Octopus.Server.exe commands to run on it, after read-only checks")
    .argument("<node>", "the new node's name")
    .requiredOption("--plan <file>", "plan file of the cluster")
    .option("--print", "print the commands to run on the new node (the only mode so far)")
    .addOption(new Option("--platform <platform>", "the new node's OS (default: the plan's)").choices(["windows", "linux"]))
    .option("--url <url>", "the new node's own URL (default: its url in the plan, if it is there)")
    .addOption(new Option("--comms-port <port>", "polling Tentacle port (default 10943)").argParser(port))
    .option("--home <folder>", "the node's home folder (default C:\\Octopus)")
    .option("--config <file>", "the instance's config file (default C:\\Octopus\\OctopusServer.config)")
    .option("--server-exe <path>", "Octopus.Server.exe on the new node")
    .addOption(new Option("--master-key-env <name>", "variable holding the master key on the new node").argParser(envName))
    .addOption(
      new Option("--connection-string-env <name>", "variable holding the connection string (default: the plan's)").argParser(envName),
    )
    .option("--offline", "do not reach Octopus (no name or version check)")
    .addHelpText(
      "after",
      "\nThe master key and the connection string are never printed: the commands read environment variables.\nExample:\n  octoha join OCTO3 --plan plan.json --print --url http://octo3.corp:80/ > join-octo3.ps1",
    );
  addOutputOptions(command).action(async (node: string, flags: JoinFlags) =>
    runVerb("join", wantsJson(flags), async () => {
      if (!flags.print)
        throw new InputError("octoha join runs only with --print for now: it prints the commands to run on the new node", {
          code: "JOIN_PRINT_ONLY",
          hint: `Run: octoha join ${node} --plan ${flags.plan} --print`,
        });
      const printed = await joinPrint({
        planFile: flags.plan,
        node,
        platform: flags.platform,
        url: flags.url,
        commsPort: flags.commsPort,
        home: flags.home,
        config: flags.config,
        serverExe: flags.serverExe,
        masterKeyEnv: flags.masterKeyEnv,
        connectionStringEnv: flags.connectionStringEnv,
        offline: flags.offline,
        env: process.env,
      });
      if (!wantsJson(flags)) out(renderJoinPrint(printed));
      return { exitCode: ExitCode.Done, result: printed };
    }),
  );
}
