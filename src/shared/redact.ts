/**
 * Secrets never leave memory: every string that goes to stdout, stderr, a log, a journal or a
 * report passes through a Redactor. Known secret values are registered when they are read from
 * the environment; patterns catch secrets we were never told about (API keys, passwords inside
 * connection strings).
 */

const REDACTED = "***";

const PATTERNS: RegExp[] = [
  // Octopus API keys: API-XXXXXXXX…
  /\bAPI-[A-Z0-9]{16,}\b/gi,
  // Password=…; / Pwd=…; in ADO.NET-style connection strings (value up to ; or end, or quoted).
  /\b((?:password|pwd)\s*=\s*)(\{[^}]*\}|[^;"'\r\n]*)/gi,
  // user:password@ in URLs
  /(\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:)([^@/\s]+)(@)/gi,
  // X-Octopus-ApiKey header values
  /(x-octopus-apikey["']?\s*[:=]\s*["']?)([^"'\s,}]+)/gi,
];

export class Redactor {
  private readonly secrets = new Set<string>();

  /** Remember a secret value; every later redact() hides it. Short values are ignored (too many false hits). */
  add(secret: string | undefined | null): void {
    if (secret && secret.length >= 4) this.secrets.add(secret);
  }

  /** True when the value is a registered secret (a whole value: a password may well be a word inside PATH). */
  isSecret(value: string): boolean {
    return this.secrets.has(value);
  }

  redact(text: string): string {
    let out = text;
    // Longest first so a secret that contains another is hidden whole.
    for (const s of [...this.secrets].sort((a, b) => b.length - a.length)) out = out.split(s).join(REDACTED);
    out = out.replace(PATTERNS[0]!, REDACTED);
    out = out.replace(PATTERNS[1]!, (_m, k: string) => `${k}${REDACTED}`);
    out = out.replace(PATTERNS[2]!, (_m, a: string, _p: string, at: string) => `${a}${REDACTED}${at}`);
    out = out.replace(PATTERNS[3]!, (_m, k: string) => `${k}${REDACTED}`);
    return out;
  }

  /**
   * Redact every string inside a JSON-safe value (for journals and reports). A string equal to one in
   * `keep` stays as it is: a value the output exists to hand over (the stand-in's own throwaway key).
   */
  redactValue<T>(value: T, keep: ReadonlySet<string> = new Set()): T {
    const walk = (v: unknown): unknown => {
      if (typeof v === "string") return keep.has(v) ? v : this.redact(v);
      if (Array.isArray(v)) return v.map(walk);
      if (v && typeof v === "object") {
        const out: Record<string, unknown> = {};
        for (const [k, x] of Object.entries(v)) out[k] = walk(x);
        return out;
      }
      return v;
    };
    return walk(value) as T;
  }
}

/** The process-wide redactor: secrets read from the environment are registered here. */
export const redactor = new Redactor();
