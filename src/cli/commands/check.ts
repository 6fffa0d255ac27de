import type { Command } from "commander";
import { allChecks, runChecks } from "../../plan/checks.js";
import { renderCheckReport } from "../../plan/check-report.js";
import { loadPlan } from "../../plan/load.js";
import { ExitCode } from "../../shared/exit-codes.js";
import { out, outJson, runVerb } from "../output.js";

interface CheckOptions {
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command("check")
    .description("Validate a plan and the environment variables it refers to; changes and writes nothing")
    .argument("<plan>", "plan file")
    .option("--json", "print the findings as JSON")
    .addHelpText("after", "\nExit codes: 0 good, 2 problems found (each with its fix).\nExample:\n  octoha check plan.json")
    .action(async (planFile: string, options: CheckOptions) =>
      runVerb(Boolean(options.json), async () => {
        const loaded = await loadPlan(planFile);
        const report = await runChecks(loaded, allChecks(), { env: process.env });
        if (options.json) outJson(report);
        else out(renderCheckReport(report));
        return report.ok ? ExitCode.Done : ExitCode.BadInput;
      }),
    );
}
