import { Command } from "commander";
import { exitOnUsageError, withOwnExitCode } from "./output.js";
import { OCTOHA_VERSION } from "../shared/version.js";
import type { RegisterVerb, VerbContext } from "./verb.js";

export const VERSION = OCTOHA_VERSION;

/**
 * The octoha command line with the given verbs (each registers itself from
 * src/cli/commands/<verb>.ts). main.ts passes all of them, or only `copy` when that is the verb:
 * operators pre-seed with it in loops, and loading the workflows costs ~0.3 s per start.
 */
export function buildProgram(verbs: readonly RegisterVerb[], context: VerbContext = {}): Command {
  const program = new Command("octoha")
    .description(
      "Move an Octopus Deploy Server to High Availability, and repair HA clusters whose task logs, artifacts and packages are scattered over node-local disks.",
    )
    .version(VERSION)
    .showHelpAfterError()
    // A usage error (missing argument, unknown option, bad choice) is bad input: exit 2, not commander's 1.
    .exitOverride((error) => exitOnUsageError(error));
  for (const register of verbs) register(program, context);
  return program;
}

/** `copy` needs neither the workflows nor the other verbs: load only what it uses. */
async function verbsFor(args: readonly string[]): Promise<RegisterVerb[]> {
  if (args[0] === "copy") return [(await import("./commands/copy.js")).register];
  return (await import("./commands/index.js")).commands;
}

/**
 * The command line on `args` (without node and the script), resolving with its exit code: main.ts
 * exits with it (`alone`: the process is this run's); the tests run several in one process, each with its own code.
 */
export async function runCommandLine(args: readonly string[], context: VerbContext = {}, alone = false): Promise<number> {
  const program = buildProgram(await verbsFor(args), context);
  return withOwnExitCode(() => program.parseAsync(["node", "octoha", ...args]), alone);
}
