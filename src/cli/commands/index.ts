import type { Command } from "commander";
import { register as copy } from "./copy.js";

/** Each verb's registration function. One import and one entry per verb file. */
export const commands: ((program: Command) => void)[] = [copy];
