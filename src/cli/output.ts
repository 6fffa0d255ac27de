/** How verbs print failures: one redacted line plus the hint, or a JSON object with --json. */
import { OctohaError } from "../shared/errors.js";
import { ExitCode } from "../shared/exit-codes.js";
import { redactor } from "../shared/redact.js";

export function reportFailure(error: unknown, json: boolean): number {
  const known = error instanceof OctohaError;
  const exitCode = known ? error.exitCode : ExitCode.Failed;
  if (json) {
    const body = known ? { ok: false, code: error.code, message: error.message, hint: error.hint, step: error.step, node: error.node, path: error.path, exitCode } : { ok: false, code: "INTERNAL", message: String(error instanceof Error ? error.message : error), exitCode };
    process.stdout.write(redactor.redact(JSON.stringify(redactor.redactValue(body))) + "\n");
  } else {
    const text = known ? error.describe() : `internal error: ${error instanceof Error ? error.message : String(error)}`;
    process.stderr.write(`octoha: ${redactor.redact(text)}\n`);
  }
  return exitCode;
}

/** Aborted on the first SIGINT/SIGTERM so the work in flight can checkpoint and stop. */
export function interruptSignal(): AbortSignal {
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  return controller.signal;
}
