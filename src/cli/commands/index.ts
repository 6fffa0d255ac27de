import type { Command } from "commander";
import { register as dryRun } from "./dry-run.js";
import { register as repair } from "./repair.js";
import { register as standin } from "./standin.js";

/** Each verb's registration function. One import and one entry per verb file. */
export const commands: ((program: Command) => void)[] = [dryRun, repair, standin];
