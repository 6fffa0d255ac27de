import type { Command } from "commander";

/** Each verb's registration function. One import and one entry per verb file. */
export const commands: ((program: Command) => void)[] = [];
