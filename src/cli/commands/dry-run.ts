import { Command, InvalidArgumentError, Option } from "commander";
import { DEFAULT_COPY_GROWTH_PERCENT, verbFor, type ChangeSetTolerance } from "../../report/change-set.js";
import { runDryRun } from "../../operations/dry-run.js";
import { REPORT_FORMATS, type ReportFormat } from "../../report/render.js";
import { InputError } from "../../shared/errors.js";
import { ExitCode } from "../../shared/exit-codes.js";
import { redactor } from "../../shared/redact.js";
import type { DryRunReport } from "../../report/model.js";
import { StepProgressLines } from "../../report/step-progress.js";
import { withInterrupts } from "../interrupts.js";
import { err, runVerb } from "../output.js";
import type { VerbContext } from "../verb.js";

interface DryRunFlags {
  format: ReportFormat;
  out?: string;
  detailedExitcode?: boolean;
  workflow: "migrate" | "preseed" | "repair";
  copyTolerance: number;
  json?: boolean;
  outputFormat?: "json" | "table" | "basic";
  cancelTasks?: boolean;
  verifyAll?: boolean;
  full?: boolean;
  fullList?: string;
}

export function register(program: Command, context: VerbContext = {}): void {
  program
    .command("dry-run")
    .description(
      "Show what a run would change, how much data it would copy, collisions, free space and the estimated window. Writes nothing anywhere (no journal, no lock).",
    )
    .argument("<plan>", "plan file (JSON)")
    .addOption(new Option("--format <format>", "report format").choices([...REPORT_FORMATS]).default("md"))
    .option(
      "--out <file>",
      "write the report to this file instead of stdout; a .json file (or --format json) is a change set for run --changes",
    )
    .option(
      "--copy-tolerance <percent>",
      "change set: how much files and bytes to copy may grow before a run refuses it",
      percent,
      DEFAULT_COPY_GROWTH_PERCENT,
    )
    .option(
      "--detailed-exitcode",
      "exit 0 when nothing would change, 10 when something would (1 when a run would stop at an error, either way)",
    )
    .addOption(new Option("--workflow <name>", "which run to preview").choices(["migrate", "preseed", "repair"]).default("migrate"))
    .option("--json", "same as --format json")
    .addOption(
      new Option("-f, --output-format <format>", "Octopus CLI habit: json is --format json, table/basic are Markdown").choices([
        "json",
        "table",
        "basic",
      ]),
    )
    .option("--full-list <file>", "also write every collision and missing task log as JSON Lines (the report lists the first ones)")
    .option("--cancel-tasks", "preview a run that cancels tasks still running at the drain deadline")
    .option("--verify-all", "preview a run that reads every task log through every node")
    .option("--full", "preview a repair that takes the whole outage even when there is nothing to repair")
    .addHelpText(
      "after",
      "\nExamples:\n  octoha dry-run plan.json\n  octoha dry-run plan.json --format html --out window-report.html\n  octoha dry-run plan.json --out changes.json   (then, once approved: octoha run plan.json --changes changes.json)\n  octoha dry-run plan.json --workflow repair --detailed-exitcode",
    )
    .action(async (planFile: string, flags: DryRunFlags, command: Command) => {
      const format = flags.json || flags.outputFormat === "json" ? "json" : flags.outputFormat ? "md" : flags.format;
      await runVerb("dry-run", format === "json", async () => {
        const changeSet = changeSetWanted(flags.out, format, command.getOptionValueSource("format") === "cli");
        const stepFlags = {
          cancelTasks: flags.cancelTasks === true,
          verifyAll: flags.verifyAll === true,
          ...(flags.full ? { full: true } : {}),
        };
        const tolerance: ChangeSetTolerance | undefined = changeSet ? { copyGrowthPercent: flags.copyTolerance } : undefined;
        const progress = stepProgress();
        const outcome = await withInterrupts(
          (signal) =>
            runDryRun({
              ...context,
              planFile,
              workflow: flags.workflow,
              format,
              out: flags.out,
              ...(tolerance ? { changeSet: tolerance } : {}),
              flags: stepFlags,
              ...(flags.fullList ? { fullList: flags.fullList } : {}),
              redactor,
              signal,
              onEvent: (stepId, event) => {
                if (event.level === "progress") progress.progress(stepId, event);
              },
            }).finally(() => progress.flush()),
          { second: (name) => `octoha: second ${name}, exiting now; the dry-run changed nothing.` },
        );
        if (outcome.writtenTo && changeSet)
          process.stderr.write(
            `octoha: change set written to ${outcome.writtenTo}; once approved, apply it with: ${verbFor(flags.workflow, planFile, flags.out ?? outcome.writtenTo)}\n`,
          );
        else if (outcome.writtenTo) process.stderr.write(`octoha: report written to ${outcome.writtenTo}\n`);
        else if (format !== "json") process.stdout.write(outcome.text.endsWith("\n") ? outcome.text : `${outcome.text}\n`);
        if (outcome.report.blocked) err(`octoha: ${blockedSummary(outcome.report)}`);
        const exitCode = dryRunExitCode(outcome.report, flags.detailedExitcode === true);
        // With --out the report is in the file (a change set is its own versioned format); stdout says where.
        const result = outcome.writtenTo ? { file: outcome.writtenTo, changeSet } : outcome.report;
        return { exitCode, result };
      });
    });
}

/**
 * The steps' progress while they are inspected, on stderr, at most one line per step and node every
 * 5 s (StepProgressLines), each node's last line kept: a copy step's planning over a million task
 * logs, or a share's round trips, is seconds to minutes of work before the report.
 */
function stepProgress(): StepProgressLines {
  return new StepProgressLines((stepId, message) => process.stderr.write(`${redactor.redact(`dry-run: ${stepId}: ${message}`)}\n`));
}

/**
 * `--out x.json` (or `--format json --out x`) writes a change set rather than the bare report: the
 * same report, inside a versioned, checksummed file a run can apply with --changes.
 */
function changeSetWanted(out: string | undefined, format: ReportFormat, formatGiven: boolean): boolean {
  if (!out) return false;
  const jsonFile = out.toLowerCase().endsWith(".json");
  if (jsonFile && format !== "json" && formatGiven) {
    const hint = `A .json --out file is a change set (JSON). Drop --format ${format}, or name the file .${format}.`;
    throw new InputError(`--out ${out} is a .json file but --format is ${format}`, { code: "OUT_FORMAT_CONFLICT", hint });
  }
  return jsonFile || format === "json";
}

function percent(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 1000) {
    throw new InvalidArgumentError(`expected a percentage from 0 to 1000, got ${JSON.stringify(value)}`);
  }
  return n;
}

/**
 * A report with an error finding means a run would stop there: exit 1 (as Terraform's plan does on
 * an error), never 0 "nothing would change", since a blocked inspect cannot see what would change.
 * Exit 2 when every error is a database.moveTo that is not a restore of the nodes' database (or is that
 * very database): bad input, as the run's preflight treats it.
 */
export function dryRunExitCode(
  report: Pick<DryRunReport, "blocked" | "wouldChange"> & Partial<Pick<DryRunReport, "findings">>,
  detailed: boolean,
): ExitCode {
  if (report.blocked) {
    const errors = (report.findings ?? []).filter((f) => f.severity === "error");
    return errors.length > 0 && errors.every((f) => f.code.startsWith("DB_MOVE_")) ? ExitCode.BadInput : ExitCode.Failed;
  }
  return detailed && report.wouldChange ? ExitCode.WouldChange : ExitCode.Done;
}

function blockedSummary(report: DryRunReport): string {
  const errors = report.findings.filter((f) => f.severity === "error");
  const first = errors[0]?.summary ?? "";
  return `a run would stop: the report has ${errors.length} error${errors.length === 1 ? "" : "s"} (first: ${first}); fix them and run the dry-run again.`;
}
