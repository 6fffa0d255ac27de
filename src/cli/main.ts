#!/usr/bin/env node
import "./threadpool.js";
import { buildProgram, type RegisterVerb } from "./program.js";
import { ExitCode } from "../shared/exit-codes.js";

/** `copy` needs neither the workflows nor the other verbs: load only what it uses. */
async function verbs(): Promise<RegisterVerb[]> {
  if (process.argv[2] === "copy") return [(await import("./commands/copy.js")).register];
  return (await import("./commands/index.js")).commands;
}

verbs()
  .then((list) => buildProgram(list).parseAsync(process.argv))
  .catch((error: unknown) => {
    // Commands map their own errors to exit codes; anything reaching here is a bug.
    process.stderr.write(`octoha: internal error: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(ExitCode.Failed);
  });
