import type { Command } from "commander";
import { withInterrupts } from "../interrupts.js";
import type { VerbContext } from "../verb.js";
import { continueRun } from "../../operations/apply.js";
import { addApprovalOptions, addOutputOptions, approveMode, wantsJson, type OutputOptions } from "../run-options.js";
import { ExitCode } from "../../shared/exit-codes.js";
import { runVerb } from "../output.js";

interface RollbackFlags extends OutputOptions {
  run?: string;
  stateDir?: string;
  to?: string;
  yes?: boolean;
  prompt?: boolean;
  removeCopies?: boolean;
}

const REMOVE_COPIES_HELP =
  "also remove the files the run copied into the shared folders that are still exactly as copied (others stay and are listed), " +
  "and the shared folders it created once empty; works on a run already rolled back too";

export function register(program: Command, context: VerbContext = {}): void {
  const cmd = program
    .command("rollback")
    .argument("[plan]", "plan file; its state directory holds the run")
    .description(
      "Undo a run's applied steps newest first, restoring each recorded before-state; a step past its point of no return refuses, with the reason",
    )
    .option("--to <step>", "stop after undoing this step (it and every later step are undone)")
    .option("--run <id>", "run id (default: the newest run in the state directory)")
    .option("--remove-copies", REMOVE_COPIES_HELP)
    .option("--state-dir <dir>", "state directory when no plan is given (default ./.octoha)");
  addOutputOptions(addApprovalOptions(cmd));
  cmd.addHelpText(
    "after",
    "\nAsks before undoing on a terminal; without one, pass --yes.\nExit codes: 4 rolled back, 1 a step refused or failed to roll back (named with the reason, and what to run next),\n2 bad input (e.g. a damaged journal; nothing changed), 3 not confirmed.\n",
  );
  cmd.action(async (plan: string | undefined, o: RollbackFlags) => {
    const json = wantsJson(o);
    await runVerb("rollback", json, async () => {
      const where = {
        ...(plan ? { planFile: plan } : {}),
        ...(o.stateDir ? { stateDir: o.stateDir } : {}),
        ...(o.run ? { runId: o.run } : {}),
      };
      const extras = { ...(o.to ? { rollbackTo: o.to } : {}), ...(o.removeCopies ? { flags: { removeCopies: true } } : {}) };
      const outcome = await withInterrupts((signal) =>
        continueRun({ ...context, mode: "rollback", ...where, ...extras, approve: approveMode(o, json), json, signal }),
      );
      // Exit 4, rolled back, is what a rollback is asked for.
      return { exitCode: outcome.exitCode, result: outcome, ok: outcome.exitCode === ExitCode.RolledBack };
    });
  });
}
