import path from "node:path";
import type { Command } from "commander";
import { describeHolder, unlock } from "../../runner/lock.js";
import { DEFAULT_STATE_DIR } from "../../runner/runs.js";
import { unlockTarget } from "../../storage/target-lock.js";
import { ExitCode } from "../../shared/exit-codes.js";
import { addOutputOptions, wantsJson, type OutputOptions } from "../run-options.js";
import { err, out, runVerb } from "../output.js";

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
    .option(
      "--force",
      "release even though the holder looks alive (dangerous: two runs could change Octopus at once; a run that loses its lock stops, and resume/rollback refuse while its process still runs here)",
    );
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
      const { released } = result;
      // Its process still runs here: advising a resume now would put two processes on one journal.
      if (result.holderRunningHere)
        err(
          `octoha: WARNING: process ${released.pid} of run ${released.id} (${released.operation}) is STILL RUNNING on this host. Its lock is released, but it may still be changing Octopus.\n` +
            `  It notices within seconds that its lock is gone (a suspended one, once resumed) and stops (exit 3) without writing more to its journal; \`resume\` and \`rollback\` refuse until process ${released.pid} has exited.\n` +
            `  To stop it now: Ctrl-C in its terminal, or \`kill -INT ${released.pid}\`. Then \`octoha status\` shows where it stopped.`,
        );
      if (!json)
        out(
          `Released the lock of ${describeHolder(released)}${result.wasStale ? "" : " (forced)"}.` +
            (result.holderRunningHere
              ? ""
              : `\nResume that run with: octoha resume --run ${released.id} --state-dir ${JSON.stringify(released.path)}`),
        );
      return { exitCode: ExitCode.Done, result };
    }),
  );
}
