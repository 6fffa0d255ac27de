import type { Command } from "commander";
import { planJsonSchemaText } from "../../plan/json-schema.js";
import { ExitCode } from "../../shared/exit-codes.js";
import { out, runVerb } from "../output.js";

export function register(program: Command): void {
  program
    .command("schema")
    .description('Print the plan file\'s JSON Schema (for editors: reference it with "$schema")')
    .addHelpText("after", "\nExample:\n  octoha schema > octoha.schema.json")
    .action(async () =>
      runVerb("schema", false, async () => {
        out(planJsonSchemaText());
        return { exitCode: ExitCode.Done, result: undefined };
      }),
    );
}
