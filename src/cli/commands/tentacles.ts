import { Option, type Command } from "commander";
import { ExitCode } from "../../shared/exit-codes.js";
import { adviseTentacles, renderTentacleAdvice } from "../../tentacles/index.js";
import type { Shell } from "../../tentacles/advice.js";
import { addOutputOptions, out, runVerb, wantsJson, type OutputFlags } from "../output.js";

interface TentaclesFlags extends OutputFlags {
  tentacleConfig?: string;
  thumbprint?: string;
  redisEnabled?: boolean;
  probeRedis?: boolean;
  shell: Shell;
  tentacleInstance: string;
  tentacleExe?: string;
  withNode: string[];
}

export function register(program: Command): void {
  const command = program
    .command("tentacles")
    .description(
      "Show how each polling Tentacle must be registered with every node (poll-server commands, Tentacle.config entries); changes nothing",
    )
    .argument("<plan>", "plan file")
    .option(
      "--tentacle-config <file>",
      "a Tentacle.config to read the thumbprint and subscription from, and check which nodes it already trusts",
    )
    .option("--thumbprint <thumbprint>", "this Octopus Server's thumbprint, when the Tentacle trusts several servers")
    .option("--redis-enabled", "this cluster uses Redis multi-node polling (2026.4.6909+): nothing per node is needed")
    .option("--probe-redis", "ask the server (GET /api/serverstatus/redis) whether Redis multi-node polling is on")
    .addOption(new Option("--shell <shell>", "shell the commands are written for").choices(["pwsh", "sh"]).default("pwsh"))
    .option("--tentacle-instance <name>", "Tentacle instance name", "Tentacle")
    .option("--tentacle-exe <path>", "Tentacle executable (default: the usual install path for the shell)")
    .option(
      "--with-node <name=url>",
      "also a node not in the plan yet (one joining the cluster); repeatable",
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .addHelpText(
      "after",
      "\nThe API key is never printed: commands read it from the environment variable the plan names.\nExample:\n  octoha tentacles plan.json --tentacle-config C:\\Octopus\\Tentacle\\Tentacle.config",
    );
  addOutputOptions(command).action(async (planFile: string, flags: TentaclesFlags) =>
    runVerb("tentacles", wantsJson(flags), async () => {
      const advice = await adviseTentacles({
        planFile,
        tentacleConfig: flags.tentacleConfig,
        thumbprint: flags.thumbprint,
        redisEnabled: flags.redisEnabled,
        probeRedis: flags.probeRedis,
        shell: flags.shell,
        instance: flags.tentacleInstance,
        tentacleExe: flags.tentacleExe,
        withNodes: flags.withNode,
      });
      if (!wantsJson(flags)) out(renderTentacleAdvice(advice));
      return { exitCode: ExitCode.Done, result: advice };
    }),
  );
}
