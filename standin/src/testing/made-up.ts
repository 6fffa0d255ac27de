/**
 * Made-up credentials for the stand-in's test databases, drawn fresh in each process: a password
 * written into the source would read like a real one (and be one, for whoever copied it).
 */
import { randomBytes } from "node:crypto";

/** `label-` and 12 random hex digits: nobody's secret, different in every process. */
export function madeUpPassword(label: string): string {
  return `${label}-${randomBytes(6).toString("hex")}`;
}
