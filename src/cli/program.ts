import { Command } from "commander";
import { commands } from "./commands/index.js";

export const VERSION = "0.1.0";

/** The octoha command line: each verb registers itself from src/cli/commands/<verb>.ts. */
export function buildProgram(): Command {
  const program = new Command("octoha")
    .description("Move an Octopus Deploy Server to High Availability, and repair HA clusters whose task logs, artifacts and packages are scattered over node-local disks.")
    .version(VERSION)
    .showHelpAfterError();
  for (const register of commands) register(program);
  return program;
}
