/** Run ids, finding runs in a state directory, and the exact commands that continue a run. */
import { randomBytes } from "node:crypto";
import { access, readdir } from "node:fs/promises";
import path from "node:path";
import { COPY_MANIFEST_FILE } from "../shared/names.js";
import { shellWord } from "../shared/shell-word.js";

/** Where runs live when no plan names a state directory. */
export const DEFAULT_STATE_DIR = ".octoha";

/**
 * Sortable by start time: 20261126T040102Z-a1b2. The suffix is the millisecond (times 64) plus 6 random
 * bits, so runs started within the same second still sort in start order: resume and rollback without
 * --run take the newest, and a random suffix let them pick an older run started in that second.
 */
export function newRunId(now = new Date()): string {
  const suffix = now.getUTCMilliseconds() * 64 + (randomBytes(1)[0]! & 63);
  return `${now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z")}-${suffix.toString(16).padStart(4, "0")}`;
}

/** Run ids in the state directory, newest first. */
export async function listRuns(stateDir: string): Promise<string[]> {
  try {
    const entries = await readdir(path.join(stateDir, "runs"), { withFileTypes: true });
    return entries
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort()
      .reverse();
  } catch {
    return [];
  }
}

/**
 * Said after "no run in DIR" when DIR is an `octoha copy` target's state folder (it holds the copy's
 * manifest): a copy keeps no run, so resume, rollback and status find none there; the same copy
 * command resumes it. Empty otherwise.
 */
export async function copyStateNote(stateDir: string): Promise<string> {
  try {
    await access(path.join(stateDir, COPY_MANIFEST_FILE));
  } catch {
    return "";
  }
  return ` ${stateDir} is the state folder of an \`octoha copy\` target (it holds ${COPY_MANIFEST_FILE}): a copy keeps no run, so nothing here resumes, rolls back or shows it; run the same \`octoha copy SRC DST\` command again to resume it.`;
}

export interface ContinueCommandOptions {
  verb: "resume" | "rollback";
  runId: string;
  stateDir: string;
  planFile?: string;
  yes?: boolean;
  to?: string;
}

/** `octoha resume plan.json --run ID --yes`: what the operator types to go on. */
export function continueCommand(o: ContinueCommandOptions): string {
  const where = o.planFile ? [shellWord(o.planFile)] : ["--state-dir", shellWord(o.stateDir)];
  return ["octoha", o.verb, ...where, "--run", o.runId, ...(o.to ? ["--to", shellWord(o.to)] : []), ...(o.yes ? ["--yes"] : [])].join(" ");
}
