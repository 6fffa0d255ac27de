import path from "node:path";
import type { Command } from "commander";
import { describeHolder, unlock } from "../../runner/lock.js";
import { DEFAULT_STATE_DIR } from "../../runner/runs.js";
import { unlockTarget } from "../../storage/target-lock.js";
import { ExitCode } from "../../shared/exit-codes.js";
import { addOutputOptions, wantsJson, type OutputOptions } from "../run-options.js";
import { out, runVerb } from "../output.js";

interface UnlockFlags extends OutputOptions {
  stateDir?: string;
  target?: string;
  force?: boolean;
}

export function register(program: Command): void {
  const cmd = program
    .command("unlock")
    .argument("<id>", "the lock id (the run id shown in the 'locked' message and by `octoha status`)")
    .description(
      "Release the state directory's lock left by a run that died (crash, killed process, lost node); with --target, a copy target's",
    )
    .option("--state-dir <dir>", "state directory (default ./.octoha)")
    .option("--target <dst>", "release the lock of this copy target (a shared folder octoha copy or a run's copy step writes into)")
    .option("--force", "release even though the holder looks alive (dangerous: two runs could change Octopus at once)");
  addOutputOptions(cmd);
  cmd.action(async (id: string, o: UnlockFlags) =>
    runVerb("unlock", wantsJson(o), async () => {
      const json = wantsJson(o);
      if (o.target !== undefined) {
        const result = await unlockTarget(path.resolve(o.target), id, o.force === true);
        const released = `Released the lock of ${path.resolve(o.target)} held by ${describeHolder(result.released)}${result.wasStale ? "" : " (forced)"}.`;
        if (!json) out(`${released}\nRe-run the copy (or resume the run) to continue it.`);
        return { exitCode: ExitCode.Done, result };
      }
      const result = await unlock(path.resolve(o.stateDir ?? DEFAULT_STATE_DIR), id, o.force === true);
      if (!json)
        out(
          `Released the lock of ${describeHolder(result.released)}${result.wasStale ? "" : " (forced)"}.\nResume that run with: octoha resume --run ${result.released.id} --state-dir ${JSON.stringify(result.released.path)}`,
        );
      return { exitCode: ExitCode.Done, result };
    }),
  );
}
