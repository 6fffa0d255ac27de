/**
 * What makes a source folder the same folder on the next run, so a copy may replace a target only
 * when the manifest proves it wrote that target from this very source file (a preseed's copy of a
 * log that has grown since). A node name cannot prove it: it is a label, and one machine copying
 * two nodes' folders gave both the same one. The identity is:
 * - the folder's canonical path (links resolved; a Windows mapped drive becomes its UNC path),
 *   case-folded where the platform's paths are case-insensitive;
 * - this machine's name, unless the path is a UNC path (which names its server): `C:\Octopus\TaskLogs`
 *   on OCTO1 and on OCTO2 are two folders, even on VMs cloned from one image;
 * - the folder's device and file number: a different share mounted where another one was is
 *   another folder. (A remount of the same share can change the device number on Linux; the
 *   next copy then cannot prove a grown file is its own and reports it as a collision, never losing it.)
 */
import os from "node:os";
import type { FileOps } from "./file-ops.js";
import type { SourceFacts } from "./manifest-sources.js";

/**
 * The identity, and the folder's birth time where the file system keeps one: the identity alone does
 * not tell every folder mounted at one path from another (manifest-sources.ts uses the birth time).
 */
export async function sourceFacts(ops: FileOps, root: string): Promise<SourceFacts | undefined> {
  try {
    const real = await ops.realpath(root);
    const s = await ops.stat(real);
    if (!s.isDirectory) return undefined;
    const where = process.platform === "win32" || process.platform === "darwin" ? real.toLowerCase() : real;
    const machine = /^[\\/]{2}[^\\/]/.test(real) ? "" : `${os.hostname().toLowerCase()}:`;
    const born = s.birthtimeMs !== undefined && s.birthtimeMs > 0 ? s.birthtimeMs : undefined;
    return { id: `${machine}${where}|${s.dev ?? "-"}:${s.ino ?? "-"}`, born };
  } catch {
    return undefined; // the walk reports a missing or unreadable source root, with the fix
  }
}
