import type { Command } from "commander";
import { checksWith, runChecks } from "../../plan/checks.js";
import { renderCheckReport } from "../../plan/check-report.js";
import { loadPlan } from "../../plan/load.js";
import { ExitCode } from "../../shared/exit-codes.js";
import { PREFLIGHT_CHECK_ID, preflightCheck } from "../../steps/preflight-check.js";
import { addOutputOptions, out, runVerb, wantsJson, type OutputFlags } from "../output.js";

export function register(program: Command): void {
  const command = program
    .command("check")
    .description(
      "Validate a plan and its environment variables, then (secrets set) run the read-only preflight against Octopus, SQL and the folders; changes and writes nothing",
    )
    .argument("<plan>", "plan file")
    .option("--no-preflight", "validate the plan and its environment variables only; reach nothing on the network")
    .addHelpText(
      "after",
      "\nExit codes: 0 ready, 1 the preflight found a problem, 2 plan or environment problems, or a database.moveTo that is not a restore of the nodes' database (each with its fix).\nExample:\n  octoha check plan.json\n  octoha check plan.json --no-preflight   (plan only, e.g. in CI)",
    );
  addOutputOptions(command).action(async (planFile: string, flags: OutputFlags & { preflight?: boolean }) =>
    runVerb("check", wantsJson(flags), async () => {
      const loaded = await loadPlan(planFile);
      const checks = checksWith(flags.preflight === false ? [] : [preflightCheck]);
      const report = await runChecks(loaded, checks, { env: process.env });
      if (!wantsJson(flags)) out(renderCheckReport(report));
      if (report.ok) return { exitCode: ExitCode.Done, result: report };
      const errors = report.results.flatMap((r) =>
        r.findings.filter((f) => f.severity === "error").map((f) => ({ id: r.id, code: f.code })),
      );
      const planProblem = errors.some((e) => e.id !== PREFLIGHT_CHECK_ID);
      // A database.moveTo that is not a restore of this database (or is this very database) is bad input, as a run treats it.
      const wrongTarget = errors.every((e) => e.code.startsWith("DB_MOVE_"));
      return { exitCode: planProblem || wrongTarget ? ExitCode.BadInput : ExitCode.Failed, result: report };
    }),
  );
}
