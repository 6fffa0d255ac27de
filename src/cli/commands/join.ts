import { InvalidArgumentError, Option, type Command } from "commander";
import type { VerbContext } from "../verb.js";
import { runWorkflow } from "../../operations/apply.js";
import { withInterrupts } from "../interrupts.js";
import { addApprovalOptions, approveMode } from "../run-options.js";
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
  yes?: boolean;
  prompt?: boolean;
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

/** `join NODE --plan PLAN`: the journaled, resumable workflow through the node's control recipe (exit codes as `octoha run`). */
function runJoin(node: string, flags: JoinFlags, context: VerbContext): Promise<void> {
  const json = wantsJson(flags);
  return runVerb("join", json, async () => {
    if (flags.offline)
      throw new InputError("--offline is for --print: running the join reaches the cluster and the node", {
        code: "JOIN_OFFLINE_RUN",
        hint: `Run: octoha join ${node} --plan ${flags.plan} --print --offline`,
      });
    if (flags.url !== undefined)
      throw new InputError("--url is for --print: a join run reaches the node at its url in the plan", {
        code: "JOIN_URL_RUN",
        hint: `Set nodes[].url for ${node} in ${flags.plan} and run again, or print the commands: octoha join ${node} --plan ${flags.plan} --print --url ${flags.url}`,
      });
    // Names of variables and options only: the run's flags are journaled.
    const runFlags: Record<string, string | undefined> = {
      joinNode: node,
      masterKeyEnv: flags.masterKeyEnv,
      connectionStringEnv: flags.connectionStringEnv,
      platform: flags.platform,
      commsPort: flags.commsPort === undefined ? undefined : String(flags.commsPort),
      home: flags.home,
      config: flags.config,
      serverExe: flags.serverExe,
    };
    const defined = Object.fromEntries(Object.entries(runFlags).filter(([, v]) => v !== undefined));
    const outcome = await withInterrupts((signal) =>
      runWorkflow({ ...context, workflow: "join", planFile: flags.plan, flags: defined, approve: approveMode(flags, json), json, signal }),
    );
    return { exitCode: outcome.exitCode, result: outcome };
  });
}

export function register(program: Command, context: VerbContext = {}): void {
  const command = program
    .command("join")
    .description(
      "Add a node to the cluster through its control recipe, as a resumable run; with --print, the Octopus.Server.exe commands to run on it yourself",
    )
    .argument("<node>", "the new node's name")
    .requiredOption("--plan <file>", "plan file of the cluster")
    .option("--print", "print the commands to run on the new node instead of running them")
    .addOption(new Option("--platform <platform>", "the new node's OS (default: the plan's)").choices(["windows", "linux"]))
    .option("--url <url>", "the new node's own URL (default: its url in the plan, if it is there)")
    .addOption(
      new Option(
        "--comms-port <port>",
        "polling Tentacle port (default: the port of the node's pollingAddress, 443 if it names none; no pollingAddress: 10943; must match it)",
      ).argParser(port),
    )
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
      "\nThe master key and the connection string are never printed: the commands read environment variables.\n" +
        "Without --print the plan's node (url, control: winrm, ssh, local, or argv with exec) is joined as a resumable run;\n" +
        "its first change asks to confirm the master key is backed up (--yes answers). Exit codes as for `octoha run`.\n" +
        "Examples:\n  octoha join OCTO3 --plan plan.json --yes\n  octoha join OCTO3 --plan plan.json --print --url http://octo3.corp:80/ > join-octo3.ps1",
    );
  addApprovalOptions(command);
  addOutputOptions(command).action(async (node: string, flags: JoinFlags) => {
    if (!flags.print) return runJoin(node, flags, context);
    return runVerb("join", wantsJson(flags), async () => {
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
    });
  });
}
