/**
 * A copy whose target is inside its source (or is it) would copy its own output without end and
 * write its state into the source; a source inside its target would be merged into itself. Both
 * are refused before anything is written (exit 2). Compared twice: the canonical paths (links
 * resolved, case-folded where the platform's paths ignore case), and the folders' identities
 * (device and file number up the parents), which also catches a bind mount or another spelling of
 * one folder on a case-insensitive share mounted on Linux. The manifest's folder is refused inside
 * the source (a copy never writes there) and inside the target (the copy writes every source file
 * there, so a source file of the manifest's name would meet it), except under the target's own
 * .octoha, which the copy never writes a source file into (the default DST/.octoha).
 */
import path from "node:path";
import { InputError } from "../shared/errors.js";
import type { FileOps, FileStat } from "./file-ops.js";
import { STATE_FOLDER } from "./walk.js";

const FOLD = process.platform === "win32" || process.platform === "darwin";

/** The canonical form of `p`, which need not exist: its nearest existing parent resolved, the rest appended. */
export async function canonical(ops: FileOps, p: string): Promise<{ path: string; existing: string } | undefined> {
  const rest: string[] = [];
  for (let current = path.resolve(p); ; current = path.dirname(current)) {
    const real = await ops.realpath(current).catch(() => undefined);
    if (real !== undefined) return { path: path.join(real, ...rest.reverse()), existing: real };
    if (path.dirname(current) === current) return undefined;
    rest.push(path.basename(current));
  }
}

/** True when `inner` is `outer` or inside it (both canonical), case-insensitively where the platform's paths are. */
export function contains(outer: string, inner: string): boolean {
  const [o, i] = FOLD ? [outer.toLowerCase(), inner.toLowerCase()] : [outer, inner];
  const rel = path.relative(o, i);
  return rel === "" || (rel !== ".." && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

function sameFolder(a: FileStat | undefined, b: FileStat | undefined): boolean {
  return a?.ino !== undefined && a.ino !== 0 && a.dev === b?.dev && a.ino === b?.ino;
}

/** True when `folder` or one of its parents is the folder `ancestor` (by identity). */
async function underByIdentity(ops: FileOps, folder: string, ancestor: FileStat | undefined): Promise<boolean> {
  if (ancestor?.ino === undefined || ancestor.ino === 0) return false;
  for (let current = folder; ; current = path.dirname(current)) {
    if (sameFolder(await ops.stat(current).catch(() => undefined), ancestor)) return true;
    if (path.dirname(current) === current) return false;
  }
}

function refusal(what: string, source: string, target: string): InputError {
  return new InputError(what, {
    code: "COPY_OVERLAP",
    path: target,
    hint:
      `Choose a target outside the source, and a source outside the target (source '${source}', target '${target}'), ` +
      "e.g. the shared folder on the file share. Nothing was written.",
  });
}

/** Throws COPY_OVERLAP (exit 2) when source and target overlap, or when the manifest would be written inside the source. */
export async function refuseOverlap(ops: FileOps, source: string, target: string, manifestPath?: string): Promise<void> {
  const src = await canonical(ops, source);
  const tgt = await canonical(ops, target);
  if (!src || !tgt || src.path !== src.existing) return; // a missing source is reported by the walk, with the fix
  const srcStat = await ops.stat(src.path).catch(() => undefined);
  const tgtStat = tgt.path === tgt.existing ? await ops.stat(tgt.path).catch(() => undefined) : undefined;
  if (contains(src.path, tgt.path) && contains(tgt.path, src.path))
    throw refusal(`The target '${target}' is the source '${source}' itself`, source, target);
  if (contains(src.path, tgt.path) || (await underByIdentity(ops, tgt.existing, srcStat))) {
    const where = sameFolder(tgtStat, srcStat) ? "the source itself" : "inside the source";
    throw refusal(`The target '${target}' is ${where} '${source}': the copy would copy its own output without end`, source, target);
  }
  if (contains(tgt.path, src.path) || (await underByIdentity(ops, src.path, tgtStat))) {
    throw refusal(`The source '${source}' is inside the target '${target}': the copy would merge the folder into itself`, source, target);
  }
  if (manifestPath !== undefined) {
    const state = await canonical(ops, path.dirname(manifestPath));
    if (state && (contains(src.path, state.path) || (await underByIdentity(ops, state.existing, srcStat)))) {
      throw new InputError(`The copy manifest '${manifestPath}' would be written inside the source '${source}'`, {
        code: "COPY_OVERLAP",
        path: manifestPath,
        hint: "A copy never writes into its source. Pass a --state-dir outside the source (or none: the default is DST/.octoha). Nothing was written.",
      });
    }
    if (state && (await insideTargetTree(ops, state, tgt.path, tgtStat))) {
      throw new InputError(`The copy manifest '${manifestPath}' would be written inside the target '${target}'`, {
        code: "COPY_OVERLAP",
        path: manifestPath,
        hint:
          "The copy writes every source file into the target, so a source file of the manifest's name would meet octoha's manifest. " +
          `Pass a --state-dir outside the target, or none (the default, '${path.join(target, STATE_FOLDER)}', is the one folder of the target the copy never writes into). Nothing was written.`,
      });
    }
  }
}

/** True when the state folder is in the target's tree, by path or identity, but not under the target's own .octoha. */
async function insideTargetTree(
  ops: FileOps,
  state: { path: string; existing: string },
  target: string,
  targetStat: FileStat | undefined,
): Promise<boolean> {
  if (!contains(target, state.path) && !(await underByIdentity(ops, state.existing, targetStat))) return false;
  const own = path.join(target, STATE_FOLDER);
  if (contains(own, state.path)) return false;
  const ownStat = await ops.stat(own).catch(() => undefined);
  return !(ownStat?.isDirectory === true && (await underByIdentity(ops, state.existing, ownStat)));
}
