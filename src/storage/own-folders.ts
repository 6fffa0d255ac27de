/**
 * octoha's own folders in a target (`.octoha`, the quarantine and the folders under it) are made
 * and used as real folders, never through a link. A symlink (or a Windows junction) left where one
 * of them goes would take the lock, the manifest or a quarantined copy outside the target: the
 * path guard (under-root.ts) proves names stay under their root, not where a link leads.
 */
import path from "node:path";
import { InputError, OctohaError } from "../shared/errors.js";
import type { FileOps } from "./file-ops.js";
import { contains } from "./overlap.js";
import { STATE_FOLDER } from "./walk.js";

const REMOVE_LINK =
  "Remove the link (Linux: rm; Windows: rmdir, which keeps the folder it leads to) and run the copy again: octoha makes the folder itself";

/** The target's `.octoha` is a link (or anything but a file or folder): refused before anything is written (exit 2). */
export async function refuseLinkedStateFolder(ops: FileOps, target: string): Promise<void> {
  const at = path.join(target, STATE_FOLDER);
  const found = await ops.stat(at).catch(() => undefined);
  if (!found || found.isDirectory || found.isFile) return; // a file there: the lock's own refusal names it
  throw new InputError(
    `'${at}' is a link (a symbolic link or junction), not a folder: octoha keeps its lock, manifest and quarantine there`,
    {
      code: "COPY_STATE_FOLDER_LINK",
      path: at,
      hint: `Written through the link, they would land outside the target '${target}'. ${REMOVE_LINK}. To keep the manifest elsewhere, pass --state-dir. Nothing was written.`,
    },
  );
}

/**
 * The manifest (and the files kept beside it: its snapshot, `.sources`, `.target`) must be files, not
 * links: a record appended through a link lands in whatever file it leads to. Refused before anything
 * is written (exit 2).
 */
export async function refuseLinkedStateFiles(ops: FileOps, manifestPath: string): Promise<void> {
  for (const at of [manifestPath, `${manifestPath}.index`, `${manifestPath}.sources`, `${manifestPath}.target`]) {
    const found = await ops.stat(at).catch(() => undefined);
    if (!found || found.isFile || found.isDirectory) continue; // a folder there: the manifest's own refusal names it
    throw new InputError(`'${at}' is a link (a symbolic link or junction), not a file: octoha keeps its manifest there`, {
      code: "COPY_STATE_FILE_LINK",
      path: at,
      hint: `Its records would be written into whatever file the link leads to. Remove the link (the manifest is rebuilt: files already at the target are hashed once more, never overwritten), then run the copy again. Nothing was written.`,
    });
  }
}

/** The deepest folder holding both `a` and `b`: where octoha's folders for a target start. */
export function commonFolder(a: string, b: string): string {
  let folder = path.resolve(a);
  while (!contains(folder, path.resolve(b)) && path.dirname(folder) !== folder) folder = path.dirname(folder);
  return folder;
}

/**
 * Makes folders under `root` one level at a time, each proven a real folder (lstat) before
 * anything goes in it; a folder proven once is not looked at again in this run (a million
 * quarantined copies in one folder cost one proof). `root` itself is the caller's (the target
 * may be reached through a link).
 */
export class OwnFolders {
  private readonly proven = new Set<string>();

  constructor(
    private readonly ops: FileOps,
    private readonly root: string,
  ) {}

  /** `folder` and every folder between it and the root, made where missing; a link on the way fails (behaviour "continue": this file only). */
  async make(folder: string): Promise<void> {
    let at = this.root;
    for (const name of path.relative(this.root, folder).split(path.sep)) {
      if (name === "") continue;
      at = path.join(at, name);
      if (this.proven.has(at)) continue;
      let found = await this.ops.stat(at).catch(() => undefined);
      if (!found) {
        await this.ops.mkdir(at);
        found = await this.ops.stat(at);
      }
      if (found.isFile) {
        // One file's quarantine is blocked, not the copy: the rest goes on (as for a link, below).
        throw new OctohaError(`Could not find a part of the path '${folder}': '${at}' is a file, not a folder`, {
          code: "COPY_PATH_NOT_FOUND",
          behaviour: "continue",
          path: at,
          hint: `octoha needs a folder there for quarantined copies. The file is not octoha's: move or rename it, then run the copy again. Nothing was quarantined there: this file is listed as failed (its source and the target's copy stay as they are), and the copy goes on with the rest.`,
        });
      }
      if (!found.isDirectory) {
        throw new OctohaError(`'${at}' is a link (a symbolic link or junction), not a folder: octoha does not write through it`, {
          code: "COPY_LINK_IN_OWN_FOLDER",
          behaviour: "continue",
          path: at,
          hint: `octoha writes only into real folders under '${this.root}'; through the link, a quarantined copy would land outside it. ${REMOVE_LINK}. Nothing was written through it: this file is listed as failed (its source and the target's copy stay as they are), and the copy goes on with the rest.`,
        });
      }
      this.proven.add(at);
    }
  }
}
