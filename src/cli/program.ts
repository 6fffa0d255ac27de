import { Command } from "commander";
import { ExitCode } from "../shared/exit-codes.js";
import { commands } from "./commands/index.js";

export const VERSION = "0.1.0";

/** The octoha command line: each verb registers itself from src/cli/commands/<verb>.ts. */
export function buildProgram(): Command {
  const program = new Command("octoha")
    .description("Move an Octopus Deploy Server to High Availability, and repair HA clusters whose task logs, artifacts and packages are scattered over node-local disks.")
    .version(VERSION)
    .showHelpAfterError()
    // A usage error (missing argument, unknown option, bad choice) is bad input: exit 2, not commander's 1.
    .exitOverride((error) => process.exit(error.exitCode === 0 ? ExitCode.Done : ExitCode.BadInput));
  for (const register of commands) register(program);
  return program;
}
