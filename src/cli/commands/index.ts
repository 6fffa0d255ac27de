import type { RegisterVerb } from "../verb.js";
import { register as check } from "./check.js";
import { register as copy } from "./copy.js";
import { register as demo } from "./demo.js";
import { register as dryRun } from "./dry-run.js";
import { register as init } from "./init.js";
import { register as join } from "./join.js";
import { register as lb } from "./lb.js";
import { register as repair } from "./repair.js";
import { register as resume } from "./resume.js";
import { register as rollback } from "./rollback.js";
import { register as run } from "./run.js";
import { register as schema } from "./schema.js";
import { register as standin } from "./standin.js";
import { register as status } from "./status.js";
import { register as tentacles } from "./tentacles.js";
import { register as unlock } from "./unlock.js";

/** Each verb's registration function, in the order `octoha --help` lists them. */
export const commands: RegisterVerb[] = [
  init,
  check,
  schema,
  dryRun,
  run,
  resume,
  rollback,
  status,
  unlock,
  repair,
  copy,
  tentacles,
  lb,
  join,
  standin,
  demo,
];
