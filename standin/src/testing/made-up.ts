/**
 * Made-up credentials for the stand-in's test databases, drawn fresh in each process: a password
 * written into the source would read like a real one (and be one, for whoever copied it).
 */
import { randomBytes } from "node:crypto";

/**
 * `label-`, 12 random hex digits and `punctuation` (characters a test needs in it, such as a ';' or
 * a quote a connection string must quote): nobody's secret, different in every process.
 */
export function madeUpPassword(label: string, punctuation = ""): string {
  return `${label}-${randomBytes(6).toString("hex")}${punctuation}`;
}

/**
 * A connection string: `parts`, then the login's secret under `keyword` (Password, Pwd), quoted
 * with `quote` when given (a doubled quote inside stays as written). Tests build their connection
 * strings through it, so no secret is ever written out in the source.
 */
export function withSecret(parts: string, keyword: string, secret: string, quote = ""): string {
  return `${parts};${keyword}=${quote}${secret}${quote}`;
}
