#!/usr/bin/env node
import "./threadpool.js";
import { registerOctopusWorkflows } from "../steps/workflows.js";
import { buildProgram } from "./program.js";

// The runner knows nothing about Octopus: the Octopus workflows are registered here, at the top.
registerOctopusWorkflows();

const program = buildProgram();
program.parseAsync(process.argv).catch((error: unknown) => {
  // Commands map their own errors to exit codes; anything reaching here is a bug.
  process.stderr.write(`octoha: internal error: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
