import type { Command } from "commander";
import { runDemo } from "../../demo/demo.js";
import { redactor } from "../../shared/redact.js";
import { InputError } from "../../shared/errors.js";
import { addOutputOptions, err, runVerb, wantsJson, type OutputFlags } from "../output.js";
import { withInterrupts } from "../interrupts.js";
import { ExitCode } from "../../shared/exit-codes.js";
import { loadStandin } from "../load-standin.js";

interface DemoFlags extends OutputFlags {
  dir: string;
  nodes: string;
  tasks: string;
}

export function register(program: Command): void {
  const cmd = program
    .command("demo")
    .description(
      "Repair a simulated two-node Octopus cluster whose nodes wrote task logs to their own disks: the stand-in, a plan, the dry-run report, the repair and the proof, in under a minute. Touches nothing but --dir.",
    )
    .option(
      "--dir <dir>",
      "folder for the demo's cluster, plan, journal and reports (wiped at start if an earlier demo made it)",
      "octoha-demo",
    )
    .option("--nodes <n>", "nodes in the simulated cluster", "2")
    .option("--tasks <n>", "completed tasks per node in the synthetic history", "40");
  addOutputOptions(cmd);
  cmd.action(async (o: DemoFlags) =>
    runVerb("demo", wantsJson(o), async () => {
      const json = wantsJson(o);
      const nodes = Number(o.nodes);
      const tasks = Number(o.tasks);
      if (!Number.isInteger(nodes) || nodes < 1 || nodes > 8 || !Number.isInteger(tasks) || tasks < 1 || tasks > 5000)
        throw new InputError(`--nodes takes 1 to 8 and --tasks 1 to 5000 (got ${JSON.stringify(o.nodes)} and ${JSON.stringify(o.tasks)})`, {
          code: "DEMO_BAD_SIZE",
        });
      const { startStandin } = await loadStandin();
      const say = (line: string) => (json ? undefined : err(line));
      const outcome = await withInterrupts((signal) =>
        runDemo({ dir: o.dir, nodes, tasksPerNode: tasks, redactor, signal, json, say, startStandin }),
      );
      if (!json)
        err(
          `Run report: ${outcome.run.report ?? "(none)"}\n${outcome.exitCode === ExitCode.Done ? "Demo finished: every task log opens through every node." : `Demo finished with exit code ${outcome.exitCode}.`}`,
        );
      const run = { status: outcome.run.status, runId: outcome.run.runId, journal: outcome.run.journal, report: outcome.run.report };
      return { exitCode: outcome.exitCode, result: { ...outcome, run } };
    }),
  );
}
