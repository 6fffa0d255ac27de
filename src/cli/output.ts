/**
 * The command line's only way out to the terminal: everything passes the redactor, and errors
 * become exit codes in one place (OctohaError carries its own; anything else is a bug: 1).
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { Option, type Command, type CommanderError } from "commander";
import { OctohaError, InputError } from "../shared/errors.js";
import { ExitCode } from "../shared/exit-codes.js";
import { redactor } from "../shared/redact.js";
import { forTerminal } from "../report/format.js";

/**
 * A closed stdout or stderr (`| head`, `| less` quit early, a dropped SSH session's terminal) must
 * never kill a run mid-window: Node reports the failed write (EPIPE, EIO) as an 'error' event, and
 * without a listener the process died with a stack trace, nodes stopped and the lock held. Output is
 * best effort: the run carries on to the end, and its journal and report.md record everything it
 * did. After the first failed write the stream is written no more (process.stdout is never
 * destroyed, so every later write would fail again: a copy's progress four times a second).
 */
export function keepRunningWhenOutputCloses(streams: readonly NodeJS.WriteStream[] = [process.stdout, process.stderr]): void {
  for (const stream of streams) stream.on("error", () => dropWrites(stream));
}

/** Every later write to `stream` succeeds at once and writes nothing. */
function dropWrites(stream: NodeJS.WriteStream): void {
  const dropped = (_chunk: unknown, encodingOrDone?: unknown, done?: unknown): boolean => {
    const callback = [encodingOrDone, done].find((f): f is () => void => typeof f === "function");
    if (callback) process.nextTick(callback);
    return true;
  };
  stream.write = dropped as NodeJS.WriteStream["write"];
}

export function out(text: string): void {
  process.stdout.write(forTerminal(redactor.redact(text.endsWith("\n") ? text : `${text}\n`)));
}

export function err(text: string): void {
  process.stderr.write(forTerminal(redactor.redact(text.endsWith("\n") ? text : `${text}\n`)));
}

/**
 * Every verb's result, as JSON: one line on stdout, the last one (after a run's progress events), so a
 * reader takes stdout's last line and finds either this or the ErrorEnvelope. `ok` is false when the
 * verb finished but did not do what was asked (a failed check, a run stopped at a gate: exit 1, 3).
 */
export interface ResultEnvelope {
  type: "result";
  ok: boolean;
  command: string;
  exitCode: number;
  result: unknown;
}

/** What a verb's body hands back: its exit code and the value its --json result carries. */
export interface VerbResult {
  exitCode: number;
  result: unknown;
  /** When the exit code alone does not say it (rollback's 4 is what was asked); default: exit 0 or 10. */
  ok?: boolean;
  /** Strings printed as they are, not redacted: only what the verb exists to hand over (the stand-in's own key). */
  keep?: readonly string[];
  /** The verb printed its result itself when it was ready (a server prints it once it serves, long before it exits). */
  printed?: boolean;
}

export function resultEnvelope(command: string, verdict: VerbResult): ResultEnvelope {
  const ok = verdict.ok ?? (verdict.exitCode === ExitCode.Done || verdict.exitCode === ExitCode.WouldChange);
  return { type: "result", ok, command, exitCode: verdict.exitCode, result: verdict.result };
}

/** The one way a result reaches stdout as JSON: enveloped, every string through the redactor. */
export function outResult(command: string, verdict: VerbResult): void {
  const envelope = redactor.redactValue(resultEnvelope(command, verdict), new Set(verdict.keep ?? []));
  // Not out(): it would redact the kept strings again as text.
  process.stdout.write(`${JSON.stringify(envelope)}\n`);
}

/**
 * Every verb's error, as JSON (one line on stdout, so it is also one event of a run's --json
 * stream; `type` first for readers that pick events by it). `details` carries the error's own data
 * (plan problems with their fix, step and node of a run error).
 */
export interface ErrorEnvelope {
  type: "error";
  ok: false;
  command: string;
  exitCode: number;
  error: { code: string; message: string; hint?: string; path?: string; issues?: readonly string[]; details?: unknown };
}

/** `exitCode`, when given, wins over the error's own (copy interrupted mid-error exits 3). */
export function errorEnvelope(error: unknown, command: string, exitCode?: number): ErrorEnvelope {
  if (!(error instanceof OctohaError)) {
    const message = error instanceof Error ? error.message : String(error);
    return { type: "error", ok: false, command, exitCode: exitCode ?? ExitCode.Failed, error: { code: "INTERNAL", message } };
  }
  const details = (error as { details?: unknown }).details;
  const body = {
    code: error.code,
    message: error.message,
    ...(error.hint !== undefined ? { hint: error.hint } : {}),
    ...(error.path !== undefined ? { path: error.path } : {}),
    ...(error instanceof InputError ? { issues: error.issues } : {}),
    ...(details !== undefined ? { details } : {}),
  };
  return { type: "error", ok: false, command, exitCode: exitCode ?? error.exitCode, error: body };
}

/**
 * The one way a verb reports an error: text on stderr (always: a terminal watching a --json run
 * sees it too), the envelope on stdout with --json. Returns the exit code it carries (an error
 * that is not an OctohaError is a bug: 1).
 */
export function reportError(error: unknown, json: boolean, command: string, exitCode?: number): number {
  const envelope = errorEnvelope(error, command, exitCode);
  if (json) out(JSON.stringify(redactor.redactValue(envelope)));
  err(`octoha: ${describeError(error)}`);
  return envelope.exitCode;
}

function describeError(error: unknown): string {
  if (!(error instanceof OctohaError)) {
    const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
    return `internal error: ${text}\n  This is a bug in octoha; please report it with the command you ran.`;
  }
  // Issues not already spelled out in the message (plan errors list theirs) or in the hint (a change
  // set's drift, said there before what to do about it) are listed under it.
  const said = (i: string) => error.message.includes(i.split(": ")[0] ?? i) || (error.hint?.split("\n").includes(i) ?? false);
  const extra = error instanceof InputError ? error.issues.filter((i) => !said(i)) : [];
  return `${error.describe()}${extra.map((i) => `\n  ${i}`).join("")}`;
}

/**
 * Commander's usage errors (missing argument, unknown option, bad choice; it has printed the text)
 * are bad input: exit 2, not its 1, and with --json the error envelope like any other bad input.
 */
export function exitOnUsageError(error: CommanderError, argv: readonly string[] = process.argv): never {
  if (error.exitCode === 0) throw new CommandLineExit(ExitCode.Done); // --help, --version
  const args = argv.slice(2);
  const json = args.some(
    (a, i) => a === "--json" || /^(-f|--output-format)=?json$/.test(a) || (/^(-f|--output-format)$/.test(a) && args[i + 1] === "json"),
  );
  if (json) {
    const message = error.message.replace(/^error: /, "");
    const envelope: ErrorEnvelope = {
      type: "error",
      ok: false,
      command: args[0] ?? "octoha",
      exitCode: ExitCode.BadInput,
      error: { code: "USAGE", message },
    };
    out(JSON.stringify(redactor.redactValue(envelope)));
  }
  throw new CommandLineExit(ExitCode.BadInput);
}

/** Ends the command line with this exit code (commander stops parsing when its exit callback throws). */
export class CommandLineExit extends Error {
  constructor(readonly exitCode: number) {
    super(`octoha exits with ${exitCode}`);
  }
}

/** The exit code of the command line running in this async context (runCommandLine gives each its own). */
const exitCodeOfRun = new AsyncLocalStorage<{ code?: number }>();

/** Sets the verb's exit code: its own run's, when several run in one process (in-process callers). */
export function setExitCode(code: number): void {
  const run = exitCodeOfRun.getStore();
  if (run) run.code = code;
  else process.exitCode = code;
}

/**
 * Runs `work` (commander parsing and the verb) and resolves with the exit code it set (0 when none).
 * `alone`: the process is this command line's (main.ts), so the code is process.exitCode. Otherwise the
 * run keeps its own in an AsyncLocalStorage, whose promise hooks then tax every await in the process
 * (a 200 000-file no-op's lstats: +30 % of CPU), which a real command line has no need to pay.
 */
export async function withOwnExitCode(work: () => Promise<unknown>, alone = false): Promise<number> {
  const run: { code?: number } = {};
  try {
    await (alone ? work() : exitCodeOfRun.run(run, work));
  } catch (error) {
    if (error instanceof CommandLineExit) return error.exitCode;
    throw error;
  }
  if (alone) return typeof process.exitCode === "number" ? process.exitCode : ExitCode.Done;
  return run.code ?? ExitCode.Done;
}

export interface OutputFlags {
  json?: boolean;
  outputFormat?: string;
}

/** --json, and the Octopus CLI's -f/--output-format, which our users already type. */
export function addOutputOptions(command: Command): Command {
  return command
    .option("--json", "print the result as JSON")
    .addOption(
      new Option("-f, --output-format <format>", "json, or table/basic for text (Octopus CLI habit)").choices(["json", "table", "basic"]),
    );
}

export function wantsJson(flags: OutputFlags): boolean {
  return Boolean(flags.json) || flags.outputFormat === "json";
}

/**
 * Runs a verb's body (which prints its text itself, without --json) and sets the exit code from its
 * result or its error; with --json it prints the result envelope, or the error one.
 */
export async function runVerb(command: string, json: boolean, body: () => Promise<VerbResult>): Promise<void> {
  try {
    const verdict = await body();
    if (json && !verdict.printed) outResult(command, verdict);
    setExitCode(verdict.exitCode);
  } catch (error) {
    setExitCode(reportError(error, json, command));
  }
}
