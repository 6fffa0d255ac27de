import type { Command } from "commander";
// At merge: import { runWorkflow } from "../../runner/run-workflow.js";
import { runWorkflow } from "../../runner/run-workflow-shim.js";
import { registerOctopusWorkflows } from "../../steps/workflows.js";
import { interruptSignal, reportError } from "../output.js";

interface RepairFlags {
  yes?: boolean;
  prompt?: boolean;
  cancelTasks?: boolean;
  verifyAll?: boolean;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command("repair")
    .description("Fix missing task logs, artifacts and packages in an HA cluster whose nodes wrote to their own disks: drain, maintenance mode, repath, merge every node's folders into shared storage, verify, bring the cluster back. Resumable.")
    .argument("<plan>", "plan file (JSON)")
    .option("-y, --yes", "pass the approval gates (maintenance mode, repath) without asking")
    .option("--no-prompt", "same as --yes")
    .option("--cancel-tasks", "cancel tasks still running when the drain timeout ends (default: stop, resumable)")
    .option("--verify-all", "read every task log through every node, not a sample")
    .option("--json", "machine-readable output")
    .addHelpText("after", "\nExamples:\n  octoha dry-run plan.json --workflow repair   # see what it would do first\n  octoha repair plan.json --yes")
    .action(async (planFile: string, flags: RepairFlags) => {
      try {
        registerOctopusWorkflows();
        const { exitCode } = await runWorkflow({
          workflow: "repair",
          planFile,
          flags: { cancelTasks: flags.cancelTasks === true, verifyAll: flags.verifyAll === true },
          approve: flags.yes === true || flags.prompt === false,
          json: flags.json === true,
          signal: interruptSignal(),
        });
        process.exitCode = exitCode;
      } catch (error) {
        process.exitCode = reportError(error, flags.json === true);
      }
    });
}
