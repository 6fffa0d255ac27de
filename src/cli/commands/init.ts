import type { Command } from "commander";
import { writePlanTemplate } from "../../plan/template.js";
import { ExitCode } from "../../shared/exit-codes.js";
import { out, outJson, runVerb } from "../output.js";

interface InitOptions {
  force?: boolean;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command("init")
    .description("Write a filled-in plan template to edit (single Windows node to HA on a UNC share)")
    .argument("[file]", "plan file to create", "octoha.plan.json")
    .option("--force", "replace the file if it exists")
    .option("--json", "print the result as JSON")
    .addHelpText("after", "\nExample:\n  octoha init migrate.json && octoha check migrate.json")
    .action(async (file: string, options: InitOptions) =>
      runVerb(Boolean(options.json), async () => {
        const written = await writePlanTemplate(file, { force: options.force });
        if (options.json) outJson({ ok: true, file: written });
        else out(`Wrote ${written}.\nEdit the node names, URLs and folders, set the environment variables it names, then run: octoha check ${file}`);
        return ExitCode.Done;
      }),
    );
}
