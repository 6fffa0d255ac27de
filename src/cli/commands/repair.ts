import type { Command } from "commander";
import type { VerbContext } from "../verb.js";
import { addApprovalOptions, addOutputOptions, addStepFlagOptions, startWorkflow, type StepFlagOptions } from "../run-options.js";

export function register(program: Command, context: VerbContext = {}): void {
  const cmd = program
    .command("repair")
    .description(
      "Fix missing task logs, artifacts and packages in an HA cluster whose nodes wrote to their own disks: drain, maintenance mode, repath, merge every node's folders into shared storage, verify, bring the cluster back. Resumable.",
    )
    .argument("<plan>", "plan file (JSON)");
  addOutputOptions(addApprovalOptions(addStepFlagOptions(cmd)));
  cmd.addHelpText(
    "after",
    `
Exit codes: 0 done, 1 failed, 2 bad plan, 3 stopped but resumable (the command to continue is printed), 4 rolled back.

Examples:
  octoha dry-run plan.json --workflow repair   # see what it would do first
  octoha repair plan.json --yes
`,
  );
  cmd.action((planFile: string, o: StepFlagOptions) => startWorkflow("repair", planFile, o, context));
}
