#!/usr/bin/env node
import "./threadpool.js";
import { buildProgram } from "./program.js";

const program = buildProgram();
program.parseAsync(process.argv).catch((error: unknown) => {
  // Commands map their own errors to exit codes; anything reaching here is a bug.
  process.stderr.write(`octoha: internal error: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
