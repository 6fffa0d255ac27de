import type { Command } from "commander";
import { withInterrupts } from "../interrupts.js";
import type { VerbContext } from "../verb.js";
import { continueRun } from "../../operations/apply.js";
import { addApprovalOptions, addOutputOptions, approveMode, wantsJson, type OutputOptions } from "../run-options.js";
import { runVerb } from "../output.js";

interface ResumeFlags extends OutputOptions {
  run?: string;
  stateDir?: string;
  yes?: boolean;
  prompt?: boolean;
  cancelTasks?: boolean;
}

export function register(program: Command, context: VerbContext = {}): void {
  const cmd = program
    .command("resume")
    .argument("[plan]", "plan file; its state directory holds the run (default: the plan the run was started with)")
    .description("Continue a stopped run (Ctrl-C, crash, failure or approval gate) from its journal; applied steps are not applied again")
    .option("--run <id>", "run id (default: the newest run in the state directory)")
    .option("--state-dir <dir>", "state directory when no plan is given (default ./.octoha)")
    // The drain-timeout message tells the operator to resume with this flag: it adds to the flags the run started with.
    .option("--cancel-tasks", "cancel tasks still running at the drain deadline through the API (even if the run was started without it)");
  addOutputOptions(addApprovalOptions(cmd));
  cmd.addHelpText(
    "after",
    "\nWithout PLAN, the run is looked up in --state-dir (default ./.octoha); its journal names the plan and workflow it started with.\nExit codes as for `octoha run`.\n",
  );
  cmd.action(async (plan: string | undefined, o: ResumeFlags) => {
    const json = wantsJson(o);
    await runVerb("resume", json, async () => {
      const outcome = await withInterrupts((signal) =>
        continueRun({
          ...context,
          mode: "resume",
          ...(plan ? { planFile: plan } : {}),
          ...(o.stateDir ? { stateDir: o.stateDir } : {}),
          ...(o.run ? { runId: o.run } : {}),
          ...(o.cancelTasks ? { flags: { cancelTasks: true } } : {}),
          approve: approveMode(o, json),
          json,
          signal,
        }),
      );
      return { exitCode: outcome.exitCode, result: outcome };
    });
  });
}
