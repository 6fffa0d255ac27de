import path from "node:path";
import type { Command } from "commander";
import { describeHolder, unlock } from "../../runner/lock.js";
import { DEFAULT_STATE_DIR } from "../../runner/run-workflow.js";
import { redactor } from "../../shared/redact.js";
import { addOutputOptions, failWith, wantsJson, type OutputOptions } from "../run-options.js";

interface UnlockFlags extends OutputOptions {
  stateDir?: string;
  force?: boolean;
}

export function register(program: Command): void {
  const cmd = program
    .command("unlock")
    .argument("<id>", "the lock id (the run id shown in the 'locked' message and by `octoha status`)")
    .description("Release the state directory's lock left by a run that died (crash, killed process, lost node)")
    .option("--state-dir <dir>", "state directory (default ./.octoha)")
    .option("--force", "release even though the holder looks alive (dangerous: two runs could change Octopus at once)");
  addOutputOptions(cmd);
  cmd.action(async (id: string, o: UnlockFlags) => {
    const json = wantsJson(o);
    try {
      const result = await unlock(path.resolve(o.stateDir ?? DEFAULT_STATE_DIR), id, o.force === true);
      const text = json ? JSON.stringify(result) : `Released the lock of ${describeHolder(result.released)}${result.wasStale ? "" : " (forced)"}.\nResume that run with: octoha resume --run ${result.released.id} --state-dir ${JSON.stringify(result.released.path)}`;
      process.stdout.write(`${redactor.redact(text)}\n`);
    } catch (error) {
      failWith(error, json);
    }
  });
}
