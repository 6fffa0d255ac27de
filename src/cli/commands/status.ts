import type { Command } from "commander";
import { loadPlan } from "../../plan/load.js";
import { renderStatus } from "../../report/status-view.js";
import { readRunStatus } from "../../runner/status.js";
import { redactor } from "../../shared/redact.js";
import { ExitCode } from "../../shared/exit-codes.js";
import { addOutputOptions, wantsJson, type OutputOptions } from "../run-options.js";
import { runVerb } from "../output.js";

interface StatusFlags extends OutputOptions {
  run?: string;
  stateDir?: string;
}

export function register(program: Command): void {
  const cmd = program
    .command("status")
    .argument("[plan]", "plan file; its state directory holds the runs")
    .description("Show where a run stands: each step's state and checkpoints, the outcome, and who holds the lock (reads only)")
    .option("--run <id>", "run id (default: the newest run)")
    .option("--state-dir <dir>", "state directory when no plan is given (default ./.octoha)");
  addOutputOptions(cmd);
  cmd.action(async (plan: string | undefined, o: StatusFlags) =>
    runVerb("status", wantsJson(o), async () => {
      // --state-dir wins over the plan's.
      const stateDir = o.stateDir ?? (plan ? (await loadPlan(plan)).stateDir : undefined);
      const report = await readRunStatus({
        ...(stateDir ? { stateDir } : {}),
        ...(o.run ? { runId: o.run } : {}),
      });
      if (!wantsJson(o)) process.stdout.write(renderStatus(report, redactor));
      // Reading the status succeeded whatever the run's own outcome: that is in the result.
      return { exitCode: ExitCode.Done, result: report };
    }),
  );
}
