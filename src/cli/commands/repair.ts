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
  cmd.option(
    "--full",
    "take the whole outage (drain, maintenance mode, stop and start every node) even when nothing needs copying or re-pointing",
  );
  addOutputOptions(addApprovalOptions(addStepFlagOptions(cmd)));
  cmd.addHelpText(
    "after",
    `
Exit codes: 0 done, 1 failed, 2 bad plan, 3 stopped but resumable (the command to continue is printed), 4 rolled back.

Examples:
  octoha dry-run plan.json --workflow repair   # see what it would do first
  octoha repair plan.json --yes
  octoha repair plan.json --yes --full         # restart every node even if nothing is left to repair

A repair of a cluster that needs none (Octopus's folder settings already name the shared folders, every file on the
nodes' own disks is already there) drains, stops and restarts no node: it only verifies, and says so.
`,
  );
  cmd.action((planFile: string, o: StepFlagOptions) => startWorkflow("repair", planFile, o, context));
}
