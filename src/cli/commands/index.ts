import type { Command } from "commander";
import { register as check } from "./check.js";
import { register as init } from "./init.js";
import { register as schema } from "./schema.js";
import { register as tentacles } from "./tentacles.js";

/** Each verb's registration function. One import and one entry per verb file. */
export const commands: ((program: Command) => void)[] = [init, check, schema, tentacles];
