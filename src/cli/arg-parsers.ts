/**
 * Option parsers shared by verbs. Kept apart from run-options.ts so that `copy`, which must start
 * fast, does not load the workflow stack (operations, steps, plan schema) just to parse a number.
 */
import { InvalidArgumentError } from "commander";
import { pathStyle } from "../shared/path-style.js";

export function concurrencyArg(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new InvalidArgumentError("expected an integer from 1 to 256.");
  return n;
}

/** A folder as Octopus on Windows sees it: a drive path or a UNC path (the 260-character check measures it). */
export function windowsFolderArg(value: string): string {
  if (pathStyle(value) !== "windows")
    throw new InvalidArgumentError(
      `expected the target as Octopus on Windows sees it, a drive path (D:\\Octopus\\TaskLogs) or a UNC path (\\\\fs01\\OctopusShared\\TaskLogs); got '${value}'.`,
    );
  return value;
}
