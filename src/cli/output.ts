/**
 * The command line's only way out to the terminal: everything passes the redactor, and errors
 * become exit codes in one place (OctohaError carries its own; anything else is a bug: 1).
 */
import { Option, type Command } from "commander";
import { OctohaError, InputError } from "../shared/errors.js";
import { ExitCode } from "../shared/exit-codes.js";
import { redactor } from "../shared/redact.js";

export function out(text: string): void {
  process.stdout.write(redactor.redact(text.endsWith("\n") ? text : `${text}\n`));
}

export function err(text: string): void {
  process.stderr.write(redactor.redact(text.endsWith("\n") ? text : `${text}\n`));
}

export function outJson(value: unknown): void {
  out(JSON.stringify(redactor.redactValue(value), null, 2));
}

/** Prints an error (JSON on stdout with --json, text on stderr otherwise) and returns its exit code. */
export function reportError(error: unknown, json: boolean): number {
  const known = error instanceof OctohaError;
  const code = known ? error.exitCode : ExitCode.Failed;
  if (json) {
    outJson({
      ok: false,
      exitCode: code,
      error: known
        ? { code: error.code, message: error.message, hint: error.hint, path: error.path, issues: error instanceof InputError ? error.issues : undefined, details: (error as { details?: unknown }).details }
        : { code: "INTERNAL", message: error instanceof Error ? error.message : String(error) },
    });
  } else {
    // Issues not already spelled out in the message (plan errors list theirs) are listed under it.
    const extra = error instanceof InputError ? error.issues.filter((i) => !error.message.includes(i.split(": ")[0] ?? i)) : [];
    err(`octoha: ${known ? error.describe() : `internal error: ${error instanceof Error ? error.message : String(error)}\n  This is a bug in octoha; please report it with the command you ran.`}${extra.map((i) => `\n  ${i}`).join("")}`);
  }
  return code;
}

export interface OutputFlags {
  json?: boolean;
  outputFormat?: string;
}

/** --json, and the Octopus CLI's -f/--output-format, which our users already type. */
export function addOutputOptions(command: Command): Command {
  return command
    .option("--json", "print the result as JSON")
    .addOption(new Option("-f, --output-format <format>", "json, or table/basic for text (Octopus CLI habit)").choices(["json", "table", "basic"]));
}

export function wantsJson(flags: OutputFlags): boolean {
  return Boolean(flags.json) || flags.outputFormat === "json";
}

/** Runs a verb's body and sets the exit code from its result or its error. */
export async function runVerb(json: boolean, body: () => Promise<number>): Promise<void> {
  try {
    process.exitCode = await body();
  } catch (error) {
    process.exitCode = reportError(error, json);
  }
}
