/**
 * One error base for octoha. Every error says what happened and where (summary), why and what to
 * do next (detail/hint), and how the caller should treat it (behaviour), so retry decisions never
 * depend on message text.
 */
import { ExitCode } from "./exit-codes.js";

/** How an error should be handled by whoever catches it. */
export type ErrorBehaviour =
  /** Transient: retry with backoff (EBUSY, ECONNRESET, HTTP 5xx …). */
  | "retryable"
  /** Stop the step (EACCES, ENOSPC, bad schema …). */
  | "fatal"
  /** Record it, carry on with the rest, fail at the end. */
  | "continue";

export interface OctohaErrorOptions {
  /** Stable machine-readable code, e.g. "PLAN_INVALID", "COPY_ACCESS_DENIED". */
  code: string;
  behaviour?: ErrorBehaviour;
  /** Why it happened and what to do next: shown under the one-line summary. */
  hint?: string;
  step?: string;
  node?: string;
  path?: string;
  /** Process exit code when this error ends the run (see src/shared/exit-codes.ts). */
  exitCode?: number;
  cause?: unknown;
}

export class OctohaError extends Error {
  readonly code: string;
  readonly behaviour: ErrorBehaviour;
  readonly hint: string | undefined;
  readonly step: string | undefined;
  readonly node: string | undefined;
  readonly path: string | undefined;
  readonly exitCode: number;

  constructor(summary: string, options: OctohaErrorOptions) {
    super(summary, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = options.code;
    this.behaviour = options.behaviour ?? "fatal";
    this.hint = options.hint;
    this.step = options.step;
    this.node = options.node;
    this.path = options.path;
    this.exitCode = options.exitCode ?? ExitCode.Failed;
  }

  /** "summary\n  hint" — the text a human sees. */
  describe(): string {
    const where = [
      this.step ? `step ${this.step}` : undefined,
      this.node ? `node ${this.node}` : undefined,
      this.path ? `path ${this.path}` : undefined,
    ].filter(Boolean);
    const head = where.length > 0 && !this.message.includes(this.path ?? "\u0000") ? `${this.message} (${where.join(", ")})` : this.message;
    return this.hint ? `${head}\n  ${this.hint.split("\n").join("\n  ")}` : head;
  }
}

/** Bad input from the operator (plan, flags): exit 2, nothing changed. */
export class InputError extends OctohaError {
  constructor(summary: string, options: Omit<OctohaErrorOptions, "exitCode" | "behaviour"> & { issues?: string[] }) {
    super(summary, { ...options, behaviour: "fatal", exitCode: ExitCode.BadInput });
    this.issues = options.issues ?? [];
  }
  readonly issues: string[];
}

/** A bug in octoha itself. */
export class InternalError extends OctohaError {
  constructor(summary: string, cause?: unknown) {
    super(summary, {
      code: "INTERNAL",
      cause,
      hint: "This is a bug in octoha. Please report it with the command you ran and `octoha status --json` (secrets are redacted).",
    });
  }
}

/** Error marking helpers for code that catches foreign errors. */
export function isRetryable(error: unknown): boolean {
  let e: unknown = error;
  for (let depth = 0; e && depth < 8; depth++) {
    if (e instanceof OctohaError) return e.behaviour === "retryable";
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** Node.js system error codes that are worth retrying (design.md, "Copy engine"). */
export const TRANSIENT_ERRNO = new Set(["EBUSY", "EAGAIN", "ETIMEDOUT", "ECONNRESET", "EIO", "EPIPE", "ECONNREFUSED"]);

export function errnoOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}
