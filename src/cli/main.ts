#!/usr/bin/env node
import { runCommandLine } from "./program.js";
import { ExitCode } from "../shared/exit-codes.js";
import { keepRunningWhenOutputCloses } from "./output.js";

keepRunningWhenOutputCloses();

runCommandLine(process.argv.slice(2), {}, true)
  .then((code) => {
    process.exitCode = code;
  })
  .catch((error: unknown) => {
    // Commands map their own errors to exit codes; anything reaching here is a bug.
    process.stderr.write(`octoha: internal error: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(ExitCode.Failed);
  });
