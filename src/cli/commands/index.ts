import type { Command } from "commander";
import { register as resume } from "./resume.js";
import { register as rollback } from "./rollback.js";
import { register as run } from "./run.js";
import { register as status } from "./status.js";
import { register as unlock } from "./unlock.js";

/** Each verb's registration function. One import and one entry per verb file. */
export const commands: ((program: Command) => void)[] = [run, resume, rollback, status, unlock];
