import type { Command } from "commander";
import type { VerbContext } from "../verb.js";
import { addApprovalOptions, addOutputOptions, addStepFlagOptions, startWorkflow, type StepFlagOptions } from "../run-options.js";
import { InputError } from "../../shared/errors.js";
import { reportError, setExitCode, wantsJson } from "../output.js";

interface RunFlags extends StepFlagOptions {
  phase?: string;
}

export function register(program: Command, context: VerbContext = {}): void {
  const cmd = program
    .command("run")
    .argument("<plan>", "plan file (JSON)")
    .description(
      "Apply the plan: walk its steps in order, journaling every checkpoint; stops safely on failure, Ctrl-C or an approval gate",
    )
    .option("--phase <phase>", "preseed: copy the data while Octopus stays live (run again without --phase in the window)");
  addOutputOptions(addApprovalOptions(addStepFlagOptions(cmd)));
  cmd.addHelpText(
    "after",
    `
Exit codes: 0 done, 1 failed (or the state directory is locked), 2 bad input (the plan, an unset
variable, a damaged journal, a change set that drifted: nothing changed), 3 stopped but resumable (Ctrl-C, an approval gate,
Octopus or SQL still failing after every retry: the exact command to continue is printed), 4 rolled back.

Examples:
  octoha run plan.json --phase preseed      copy while Octopus is live
  octoha run plan.json                      the migration; asks before gated steps on a terminal
  octoha run plan.json --yes --json         unattended, machine-readable progress
  octoha run plan.json --changes changes.json   only what \`dry-run --out changes.json\` showed (exit 2 if it drifted)
`,
  );
  cmd.action(async (plan: string, o: RunFlags) => {
    if (o.phase !== undefined && o.phase !== "preseed") {
      const message = `--phase must be "preseed" (got ${JSON.stringify(o.phase)}); without --phase the whole migration runs.`;
      setExitCode(reportError(new InputError(message, { code: "BAD_PHASE" }), wantsJson(o), "run"));
      return;
    }
    await startWorkflow(o.phase === "preseed" ? "preseed" : "migrate", plan, o, context);
  });
}
