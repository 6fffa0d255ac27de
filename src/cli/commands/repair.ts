import type { Command } from "commander";
import { runWorkflow } from "../../runner/run-workflow.js";
import { addApprovalOptions, addOutputOptions, approveMode, failWith, withInterrupts, wantsJson, type OutputOptions } from "../run-options.js";

interface RepairFlags extends OutputOptions {
  yes?: boolean;
  prompt?: boolean;
  cancelTasks?: boolean;
  verifyAll?: boolean;
}

export function register(program: Command): void {
  const cmd = program
    .command("repair")
    .description("Fix missing task logs, artifacts and packages in an HA cluster whose nodes wrote to their own disks: drain, maintenance mode, repath, merge every node's folders into shared storage, verify, bring the cluster back. Resumable.")
    .argument("<plan>", "plan file (JSON)")
    .option("--cancel-tasks", "cancel tasks still running when the drain timeout ends (default: stop, resumable)")
    .option("--verify-all", "read every task log through every node, not a sample");
  addOutputOptions(addApprovalOptions(cmd));
  cmd.addHelpText(
    "after",
    `
Exit codes: 0 done, 1 failed, 2 bad plan, 3 stopped but resumable (the command to continue is printed), 4 rolled back.

Examples:
  octoha dry-run plan.json --workflow repair   # see what it would do first
  octoha repair plan.json --yes
`,
  );
  cmd.action(async (planFile: string, o: RepairFlags) => {
    const json = wantsJson(o);
    try {
      const outcome = await withInterrupts((signal) =>
        runWorkflow({ workflow: "repair", planFile, flags: { cancelTasks: o.cancelTasks === true, verifyAll: o.verifyAll === true }, approve: approveMode(o, json), json, signal }),
      );
      process.exitCode = outcome.exitCode;
    } catch (error) {
      failWith(error, json);
    }
  });
}
