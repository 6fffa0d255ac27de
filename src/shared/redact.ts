/**
 * Secrets never leave memory: every string that goes to stdout, stderr, a log, a journal or a
 * report passes through a Redactor. Known secret values are registered when they are read from
 * the environment; patterns catch secrets we were never told about (API keys, passwords inside
 * connection strings).
 */

const REDACTED = "***";

/*
 * The patterns must not take a file name for a secret: a copy's report that says
 * "***.2.3.1.zip" for a package named API- and a product name, or a file named after a password
 * setting masked along with the rest of the sentence up to the next ';', no longer says which file. A file name is not a secret; a
 * secret octoha was told about (registered) is hidden wherever it appears, in a file name too.
 */
const PATTERNS: RegExp[] = [
  // Octopus API keys: API- and a run of uppercase letters and digits (Octopus issues them so: case-
  // sensitive). Not one glued to more of a name: a word character, or '.'/'-' and a letter or digit
  // (a package "API-" + product + ".2.3.1.zip", or + "-2024"); a key that ends a sentence is hidden.
  /\bAPI-[A-Z0-9]{16,}(?!\w|[.-][A-Za-z0-9])/g,
  // The Password or Pwd setting of an ADO.NET-style connection string: after another setting
  // (';'), its value up to ';' or the end (or {braced}) ...
  /(?<=;\s*)((?:password|pwd)\s*=\s*)(\{[^}]*\}|[^;"'\r\n]*)/gi,
  // ... or the first setting, at the start or after a space, quote, '(', '=', ':', ',' or bracket,
  // its value one word followed by ';' (not such a setting's spelling inside a file name or a sentence).
  /(?<![^\s'"(=:,[{])((?:password|pwd)\s*=\s*)(\{[^}]*\}|[^;\s"'{][^;\s"']*)(?=\s*;)/gi,
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
    out = out.replace(PATTERNS[2]!, (_m, k: string) => `${k}${REDACTED}`);
    out = out.replace(PATTERNS[3]!, (_m, a: string, _p: string, at: string) => `${a}${REDACTED}${at}`);
    out = out.replace(PATTERNS[4]!, (_m, k: string) => `${k}${REDACTED}`);
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
