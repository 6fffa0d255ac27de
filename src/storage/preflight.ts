/**
 * Checks before the first byte: enough free space for what will be copied plus a margin, and a
 * probe file created and deleted in the target folder (dry-run: an access check, no write).
 */
import path from "node:path";
import { OctohaError } from "../shared/errors.js";
import { formatBytes } from "../shared/format-bytes.js";
import { nodeFileOps, type FileOps } from "./file-ops.js";
import { classifyFsError } from "./copy-errors.js";
import { tempPathFor } from "./temp-names.js";

export interface PreflightOptions {
  /** Target folder as this process reaches it (need not exist yet: its nearest existing parent is checked). */
  target: string;
  bytesNeeded: number;
  /** Extra room required beyond bytesNeeded; default max(64 MiB, 5 %). */
  marginBytes?: number;
  /** Create and delete a probe file (default true). False: only check access rights (writes nothing). */
  probe?: boolean;
  ops?: FileOps;
}

export interface PreflightResult {
  ok: boolean;
  /** The folder actually checked (the target or its nearest existing parent). */
  checkedPath: string;
  freeBytes: number;
  bytesNeeded: number;
  marginBytes: number;
  /** Each problem as an error carrying the fix; empty when ok. */
  problems: OctohaError[];
}

export function defaultMargin(bytesNeeded: number): number {
  return Math.max(64 * 1024 * 1024, Math.ceil(bytesNeeded * 0.05));
}

async function nearestExisting(ops: FileOps, folder: string): Promise<string> {
  let current = path.resolve(folder);
  for (;;) {
    const s = await ops.stat(current).catch(() => undefined);
    if (s?.isDirectory) return current;
    const parent = path.dirname(current);
    if (parent === current) return current;
    current = parent;
  }
}

export async function preflightTarget(options: PreflightOptions): Promise<PreflightResult> {
  const ops = options.ops ?? nodeFileOps;
  const marginBytes = options.marginBytes ?? defaultMargin(options.bytesNeeded);
  const checkedPath = await nearestExisting(ops, options.target);
  const problems: OctohaError[] = [];
  let freeBytes = 0;
  try {
    freeBytes = (await ops.statfs(checkedPath)).freeBytes;
    if (freeBytes < options.bytesNeeded + marginBytes) {
      problems.push(
        new OctohaError(
          `Not enough free space on '${options.target}': ${formatBytes(freeBytes)} free, ${formatBytes(options.bytesNeeded)} to copy plus ${formatBytes(marginBytes)} margin`,
          {
            code: "COPY_NO_SPACE",
            path: options.target,
            hint: "Grow the share or free space before the window; nothing was written.",
          },
        ),
      );
    }
  } catch (error) {
    problems.push(classifyFsError(error, { side: "target", path: checkedPath }));
  }
  try {
    if (options.probe === false) await ops.canWrite(checkedPath);
    else {
      const probe = tempPathFor(path.join(checkedPath, ".octoha-probe"));
      const handle = await ops.open(probe, "wx");
      await handle.close();
      await ops.unlink(probe);
    }
  } catch (error) {
    problems.push(classifyFsError(error, { side: "target", path: checkedPath }));
  }
  return { ok: problems.length === 0, checkedPath, freeBytes, bytesNeeded: options.bytesNeeded, marginBytes, problems };
}
