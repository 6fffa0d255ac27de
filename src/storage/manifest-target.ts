/**
 * A manifest belongs to one target: its records vouch for files octoha wrote into that folder, and
 * read for another target they would vouch for that target's files of the same path, size and
 * mtime (one --state-dir used for two targets: a node's file never copied, or another node's
 * overwritten). So a manifest kept outside its target (--state-dir, a workflow's state folder)
 * has a file beside it, `<manifest>.target`, naming its target's canonical path (links resolved),
 * written atomically before the manifest's first line, or adopted by the first copy of this
 * version that writes to a manifest that has none. A copy into another target is refused (exit 2)
 * before anything is written. Targets are compared as overlap.ts compares folders: canonical
 * paths, case-folded where the platform's paths ignore case. A target moved or renamed since is
 * another target: refused, and the refusal says to delete that file (or pass a new --state-dir).
 * A manifest in the target's own .octoha (the default) moves with its target and has no such file.
 */
import path from "node:path";
import { InputError } from "../shared/errors.js";
import { classifyFsError } from "./copy-errors.js";
import type { FileOps } from "./file-ops.js";
import { canonical, contains } from "./overlap.js";
import { readSmallFile, replaceSmallFile } from "./temp-names.js";
import { STATE_FOLDER } from "./walk.js";

const FORMAT = 1;

export function manifestTargetFile(manifestFile: string): string {
  return `${manifestFile}.target`;
}

/** Whether the manifest is kept outside its target's own .octoha, so it needs a file naming its target. */
async function keptApart(ops: FileOps, target: string, manifestFile: string): Promise<boolean> {
  const tgt = await canonical(ops, target);
  const state = await canonical(ops, path.dirname(manifestFile));
  return !tgt || !state || !contains(path.join(tgt.path, STATE_FOLDER), state.path);
}

async function recordedTarget(ops: FileOps, file: string): Promise<string | undefined | { unreadable: string }> {
  let text: string | undefined;
  try {
    text = await readSmallFile(ops, file, 64 * 1024);
  } catch (error) {
    throw classifyFsError(error, { side: "target", path: file });
  }
  if (text === undefined) return undefined;
  try {
    const parsed = JSON.parse(text) as { v?: unknown; target?: unknown };
    if (parsed.v === FORMAT && typeof parsed.target === "string" && parsed.target !== "") return parsed.target;
  } catch {
    // not JSON: reported below
  }
  return { unreadable: text.slice(0, 80) };
}

/** Throws COPY_STATE_OTHER_TARGET (exit 2) when the manifest belongs to another target than `target`. */
export async function refuseOtherTarget(ops: FileOps, target: string, manifestFile: string): Promise<void> {
  if (!(await keptApart(ops, target, manifestFile))) return;
  const file = manifestTargetFile(manifestFile);
  const recorded = await recordedTarget(ops, file);
  if (recorded === undefined) return;
  const here = await canonical(ops, target);
  const stateDir = path.dirname(manifestFile);
  if (typeof recorded !== "string") {
    throw new InputError(`'${file}' does not name the target the manifest '${manifestFile}' belongs to`, {
      code: "COPY_STATE_OTHER_TARGET",
      path: file,
      hint: `octoha writes it as {"v":${FORMAT},"target":"…"}. If the manifest is this target's ('${target}'), delete '${file}' and run again (the copy then records this target); otherwise pass another --state-dir for this target. Nothing was written.`,
    });
  }
  if (here && contains(recorded, here.path) && contains(here.path, recorded)) return;
  throw new InputError(
    `The state folder '${stateDir}' belongs to the target '${recorded}', not to '${target}': its manifest's records vouch only for files in '${recorded}'`,
    {
      code: "COPY_STATE_OTHER_TARGET",
      path: stateDir,
      hint:
        `Use one --state-dir per target (or none: the default is DST/${STATE_FOLDER}, which moves with its target). ` +
        `If '${target}' is '${recorded}' moved or renamed, delete '${file}' and run again. Nothing was written.`,
    },
  );
}

/** Records `target` as the manifest's target, atomically, when no file names one yet. */
export async function recordManifestTarget(ops: FileOps, target: string, manifestFile: string): Promise<void> {
  if (!(await keptApart(ops, target, manifestFile))) return;
  const file = manifestTargetFile(manifestFile);
  if ((await recordedTarget(ops, file)) !== undefined) return;
  const here = await canonical(ops, target);
  if (!here) return;
  await replaceSmallFile(ops, file, `${JSON.stringify({ v: FORMAT, target: here.path })}\n`);
}
