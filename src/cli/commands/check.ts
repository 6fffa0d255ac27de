import type { Command } from "commander";
import { allChecks, runChecks } from "../../plan/checks.js";
import { renderCheckReport } from "../../plan/check-report.js";
import { loadPlan } from "../../plan/load.js";
import { ExitCode } from "../../shared/exit-codes.js";
import { addOutputOptions, out, outJson, runVerb, wantsJson, type OutputFlags } from "../output.js";

export function register(program: Command): void {
  const command = program
    .command("check")
    .description("Validate a plan and the environment variables it refers to; changes and writes nothing")
    .argument("<plan>", "plan file")
    .addHelpText("after", "\nExit codes: 0 good, 2 problems found (each with its fix).\nExample:\n  octoha check plan.json");
  addOutputOptions(command).action(async (planFile: string, flags: OutputFlags) =>
    runVerb(wantsJson(flags), async () => {
      const loaded = await loadPlan(planFile);
      const report = await runChecks(loaded, allChecks(), { env: process.env });
      if (wantsJson(flags)) outJson(report);
      else out(renderCheckReport(report));
      return report.ok ? ExitCode.Done : ExitCode.BadInput;
    }),
  );
}
