#!/usr/bin/env node
import "./threadpool.js";
import type { Command } from "commander";
import { buildProgram } from "./program.js";

/** `copy` needs neither the workflows nor the other verbs: load only what it uses. */
async function verbs(): Promise<((program: Command) => void)[]> {
  if (process.argv[2] === "copy") return [(await import("./commands/copy.js")).register];
  const [{ commands }, { registerOctopusWorkflows }] = await Promise.all([import("./commands/index.js"), import("../steps/workflows.js")]);
  // The runner knows nothing about Octopus: the Octopus workflows are registered here, at the top.
  registerOctopusWorkflows();
  return commands;
}

verbs()
  .then((list) => buildProgram(list).parseAsync(process.argv))
  .catch((error: unknown) => {
    // Commands map their own errors to exit codes; anything reaching here is a bug.
    process.stderr.write(`octoha: internal error: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
