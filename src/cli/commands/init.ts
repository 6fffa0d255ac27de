import type { Command } from "commander";
import { writePlanTemplate } from "../../plan/template.js";
import { ExitCode } from "../../shared/exit-codes.js";
import { addOutputOptions, out, runVerb, wantsJson, type OutputFlags } from "../output.js";

interface InitFlags extends OutputFlags {
  force?: boolean;
}

export function register(program: Command): void {
  const command = program
    .command("init")
    .description("Write a filled-in plan template to edit (single Windows node to HA on a UNC share)")
    .argument("[file]", "plan file to create", "octoha.plan.json")
    .option("--force", "replace the file if it exists")
    .addHelpText("after", "\nExample:\n  octoha init migrate.json && octoha check migrate.json");
  addOutputOptions(command).action(async (file: string, flags: InitFlags) =>
    runVerb("init", wantsJson(flags), async () => {
      const written = await writePlanTemplate(file, { force: flags.force });
      if (!wantsJson(flags))
        out(
          `Wrote ${written}.\nEdit the node names, URLs and folders, set the environment variables it names, then run: octoha check ${file}`,
        );
      return { exitCode: ExitCode.Done, result: { file: written } };
    }),
  );
}
