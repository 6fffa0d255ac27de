/** The one error shape of every recipe: node, cause, fix, and the exact command to try by hand. */
import { OctohaError } from "../../shared/errors.js";
import { ExitCode } from "../../shared/exit-codes.js";
import { redactor } from "../../shared/redact.js";
import { commandLine } from "../cli/exec.js";

export type ControlFailure = "denied" | "unreachable" | "unknown-service" | "failed" | "timeout";

const CODES: Record<ControlFailure, string> = {
  denied: "NODE_CONTROL_DENIED",
  unreachable: "NODE_CONTROL_UNREACHABLE",
  "unknown-service": "NODE_CONTROL_NO_SERVICE",
  failed: "NODE_CONTROL_FAILED",
  timeout: "NODE_CONTROL_TIMEOUT",
};

/**
 * A recipe failed on a node. Resumable (exit 3): the command either did nothing or left the service
 * where the service manager put it, and `resume` asks its state again before acting.
 */
export function controlError(
  node: string,
  failure: ControlFailure,
  why: string,
  fix: string,
  argv: readonly string[],
  output = "",
): OctohaError {
  const tail = redactor.redact(output.trim().split(/\r?\n/).filter(Boolean).slice(-6).join("\n"));
  return new OctohaError(`Node ${node}: ${why}`, {
    code: CODES[failure],
    exitCode: ExitCode.Resumable,
    node,
    hint: [
      fix,
      ...(tail ? [`It said:\n${tail}`] : []),
      // What to run next is the caller's to say (resume after a failed run, rollback again after a failed undo).
      `Try it by hand from this machine: ${commandLine(argv)}`,
    ].join("\n"),
  });
}

/** `database` failed on a node: its exit code and (redacted) output, resumable. */
export function databaseCommandError(node: string, exitCode: number, argv: readonly string[], output: string): OctohaError {
  return controlError(
    node,
    "failed",
    `Octopus.Server.exe database exited with code ${exitCode}`,
    "Read its message below: a wrong instance name, or an account that may not write the node's config file (C:\\Octopus\\OctopusServer.config), are the usual causes.",
    argv,
    output,
  );
}
