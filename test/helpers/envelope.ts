/**
 * Reads a verb's --json stdout: its last line is the envelope (README, "--json"), after a run's
 * progress events. The helpers assert the envelope's type, command and exit code, and return what
 * it carries, so a test's own assertions stay on the result or the error.
 */
import { expect } from "vitest";
import type { ErrorEnvelope, ResultEnvelope } from "../../src/cli/output.js";

export type Envelope = ResultEnvelope | ErrorEnvelope;

/** The envelope: stdout's last non-empty line, parsed. */
export function envelopeOf(stdout: string): Envelope {
  const last = stdout.trimEnd().split("\n").at(-1) ?? "";
  try {
    return JSON.parse(last) as Envelope;
  } catch {
    throw new Error(`stdout's last line is not a JSON envelope:\n${stdout.slice(-2000)}`);
  }
}

/** The result of a verb that finished (type "result") with this exit code; `ok` as the envelope's rule says. */
export function resultOf<T = Record<string, unknown>>(stdout: string, command: string, exitCode: number, ok?: boolean): T {
  const envelope = envelopeOf(stdout);
  expect(envelope, stdout.slice(-2000)).toMatchObject({ type: "result", command, exitCode });
  expect(Object.keys(envelope).sort()).toEqual(["command", "exitCode", "ok", "result", "type"]);
  expect(envelope.ok, `ok of ${command} exiting ${exitCode}`).toBe(ok ?? (exitCode === 0 || exitCode === 10));
  return (envelope as ResultEnvelope).result as T;
}

/** The error of a verb that stopped on one (type "error") with this exit code. */
export function errorOf(stdout: string, command: string, exitCode: number): ErrorEnvelope["error"] {
  const envelope = envelopeOf(stdout);
  expect(envelope, stdout.slice(-2000)).toMatchObject({ type: "error", ok: false, command, exitCode });
  return (envelope as ErrorEnvelope).error;
}

export interface JsonStdout {
  /** The lines before the envelope (a run's progress events). */
  events: Record<string, unknown>[];
  /** Absent when the process died before printing one (kill -9, a second Ctrl-C). */
  envelope: Envelope | undefined;
  /** The result, when the envelope is one. */
  result: unknown;
}

/**
 * Any verb's --json stdout, for harnesses that run many verbs: when there is an envelope, it must
 * name `command` and the exit code the process exited with.
 */
export function readJsonStdout(stdout: string, command: string, exitCode: number | null): JsonStdout {
  const lines = stdout.split("\n").filter((l) => l.startsWith("{"));
  const parsed = lines.flatMap((l) => {
    try {
      return [JSON.parse(l) as Record<string, unknown>];
    } catch {
      return []; // a line cut short by a kill
    }
  });
  const last = parsed.at(-1);
  const envelope =
    last && (last.type === "result" || last.type === "error") && "exitCode" in last ? (last as unknown as Envelope) : undefined;
  if (envelope) expect(envelope, `the envelope of ${command} exiting ${exitCode}`).toMatchObject({ command, exitCode });
  return {
    events: envelope ? parsed.slice(0, -1) : parsed,
    envelope,
    result: envelope?.type === "result" ? envelope.result : undefined,
  };
}
