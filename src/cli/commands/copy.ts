import { realpath, stat } from "node:fs/promises";
import path from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
import { ExitCode } from "../../shared/exit-codes.js";
import { COPY_MANIFEST_FILE, LABEL_RULE, labelProblem } from "../../shared/names.js";
import { registerDefaultSecrets } from "../../shared/environment-secrets.js";
import { withInterrupts, type InterruptMessages } from "../interrupts.js";
import { exitOnUsageError, outResult, reportError, setExitCode } from "../output.js";
import { concurrencyArg, windowsFolderArg } from "../arg-parsers.js";
import { createProgressRenderer } from "../../report/progress.js";
import { renderCopySummaryText } from "../../report/copy-summary.js";
import {
  ADAPTIVE_CONCURRENCY_CAP,
  copyTree,
  DEFAULT_CONCURRENCY,
  STATE_FOLDER,
  type CollisionPolicy,
  type VerifyMode,
} from "../../storage/index.js";

interface CopyFlags {
  concurrency?: number;
  verify: VerifyMode;
  json?: boolean;
  node?: string;
  stateDir?: string;
  octopusPath?: string;
  collisionPolicy: CollisionPolicy;
  dryRun?: boolean;
}

const NODE_HELP =
  "label for SRC: its quarantine folder under DST/.octoha/conflicts/ and its name in reports (default source-<8 hex> from SRC's identity)";

function label(value: string): string {
  // `--node --json` gave the node the name "--json" and printed no JSON: an option where the name
  // should be. No machine name starts with '-'.
  if (value.startsWith("-"))
    throw new InvalidArgumentError(
      `the node name '${value}' looks like an option: --node takes the node's name next (e.g. --node OCTO1 ${value}).`,
    );
  const problem = labelProblem(value);
  if (problem) throw new InvalidArgumentError(`the node name ${problem}. It names SRC's quarantine folder, so it must be ${LABEL_RULE}.`);
  return value;
}

export function register(program: Command): void {
  program
    .command("copy")
    .description(
      "Copy a node folder to shared storage, verified and resumable (like robocopy /S /COPY:DT: empty folders are not made; and never overwriting a different file). Re-run the same command to resume.",
    )
    .argument("<src>", "source folder (a node's TaskLogs, Artifacts, Packages …)")
    .argument("<dst>", "target folder on the shared storage")
    .addOption(
      new Option(
        "--concurrency <n>",
        `parallel file copies (default ${DEFAULT_CONCURRENCY}, raised up to ${ADAPTIVE_CONCURRENCY_CAP} on a share while files/s grows; n fixes it)`,
      ).argParser(concurrencyArg),
    )
    .addOption(
      new Option("--verify <mode>", "how a file already at the target is proven equal")
        .choices(["none", "size", "sha256"])
        .default("sha256"),
    )
    .addOption(
      new Option("--collision-policy <policy>", "same name, other bytes")
        .choices(["keep-target", "keep-newer", "fail"])
        .default("keep-target"),
    )
    .addOption(new Option("--node <name>", NODE_HELP).argParser(label))
    .option("--state-dir <dir>", `manifest folder (default <dst>/${STATE_FOLDER})`)
    .addOption(
      new Option(
        "--octopus-path <winpath>",
        "DST as Octopus will see it (e.g. \\\\fs01\\Octopus\\TaskLogs), for the 260-character check",
      ).argParser(windowsFolderArg),
    )
    .option("--dry-run", "report what would be copied; write nothing")
    .option("--json", "print the summary as one JSON line (the result envelope) on stdout")
    // Bad flags are bad input (exit 2), not a failed copy (commander's default is 1).
    .exitOverride((error) => exitOnUsageError(error))
    .addHelpText(
      "after",
      "\nExit codes: 0 done, 1 a file failed (listed), 2 bad input, 3 interrupted (re-run to resume).\nExample: octoha copy /mnt/node1/TaskLogs /mnt/shared/TaskLogs --node OCTO1",
    )
    .action(async (src: string, dst: string, flags: CopyFlags) => {
      // No plan names the secrets here: the default variables' values (a file may be named after the SQL password).
      registerDefaultSecrets(process.env);
      setExitCode(await runCopy(src, dst, flags));
    });
}

const COPY_INTERRUPTS: InterruptMessages = {
  second: (name) => `octoha copy: second ${name}, exiting now; the manifest is intact: run the same command again to resume.`,
};

function runCopy(src: string, dst: string, flags: CopyFlags): Promise<number> {
  return withInterrupts((signal) => copyUntilDone(src, dst, flags, signal), COPY_INTERRUPTS);
}

async function copyUntilDone(src: string, dst: string, flags: CopyFlags, signal: AbortSignal): Promise<number> {
  const progress = createProgressRenderer(process.stderr);
  const stateDir = flags.stateDir ?? path.join(dst, STATE_FOLDER);
  try {
    const summary = await copyTree({
      source: src,
      target: dst,
      ...(flags.node !== undefined ? { sourceNode: flags.node } : {}),
      concurrency: flags.concurrency,
      verify: flags.verify,
      collisionPolicy: flags.collisionPolicy,
      manifestPath: path.join(stateDir, COPY_MANIFEST_FILE),
      dryRun: flags.dryRun === true,
      signal,
      onProgress: (p) => progress.update(p),
      ...(flags.octopusPath !== undefined ? { targetAsOctopusSeesIt: flags.octopusPath } : {}),
    });
    progress.done();
    const twoManifests = await targetsOwnManifestBeside(dst, stateDir);
    if (twoManifests) (summary.warnings ??= []).unshift(twoManifests);
    const dryRun = flags.dryRun === true;
    const exitCode = summary.interrupted ? ExitCode.Resumable : summary.errors.length > 0 ? ExitCode.Failed : ExitCode.Done;
    if (flags.json) outResult("copy", { exitCode, result: { ...summary, dryRun } });
    else process.stdout.write(renderCopySummaryText(summary, dryRun));
    return exitCode;
  } catch (error) {
    progress.done();
    // Interrupted while failing: the manifest is intact, so the exit (and the envelope) say resumable.
    return reportError(error, flags.json === true, "copy", signal.aborted ? ExitCode.Resumable : undefined);
  }
}

/**
 * --state-dir names a manifest while the target's own (DST/.octoha) exists: copies recorded in one
 * are unknown to the other, so a copy through one hashes the files only the other recorded (nothing
 * is lost: such a file is compared, never skipped). Said, so the cost has a cause and a fix.
 */
async function targetsOwnManifestBeside(dst: string, stateDir: string): Promise<string | undefined> {
  const ownDir = path.join(dst, STATE_FOLDER);
  const own = path.join(ownDir, COPY_MANIFEST_FILE);
  if (
    !(await stat(own).then(
      (s) => s.isFile(),
      () => false,
    ))
  )
    return undefined;
  const [a, b] = await Promise.all([ownDir, stateDir].map((d) => realpath(d).catch(() => path.resolve(d))));
  if (a === b) return undefined;
  return (
    `'${own}' exists: copies into this target were also recorded there, and this copy's manifest (--state-dir '${stateDir}') knows nothing of them. ` +
    `A file a manifest has no record of is hashed on both sides once (then recorded), not skipped on size and time alone. ` +
    `Use one manifest per target: run without --state-dir (the default is DST/${STATE_FOLDER}), or always with the same one.`
  );
}
