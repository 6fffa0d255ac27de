/**
 * Option parsers shared by verbs. Kept apart from run-options.ts so that `copy`, which must start
 * fast, does not load the workflow stack (operations, steps, plan schema) just to parse a number.
 */
import { InvalidArgumentError } from "commander";

export function concurrencyArg(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new InvalidArgumentError("expected an integer from 1 to 256.");
  return n;
}
