/**
 * The one guard every write path goes through (final name and its temp file, quarantine, manifest,
 * rollback's removals): the path must lie under the root it was built from. Names are validated
 * where they come in (plan, command line); this proves that no name, however it got here (an
 * edited manifest line, a label that slipped through), can make octoha write outside its folders.
 */
import path from "node:path";
import { OctohaError } from "../shared/errors.js";

/** `p` itself when it lies under `root` (or is root); throws COPY_PATH_ESCAPES otherwise. */
export function underRoot(root: string, p: string): string {
  const rel = path.relative(root, p);
  if (rel === ".." || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) {
    throw new OctohaError(`Refusing to write '${p}': it is outside '${root}'`, {
      code: "COPY_PATH_ESCAPES",
      path: p,
      hint:
        "A name that becomes part of a path (a node name, a manifest's file name) leads out of the folder octoha writes in. " +
        "Nothing was written there. Check --node and the plan's node names; if they are plain names, report this as a bug.",
    });
  }
  return p;
}

/** root joined with a '/'-separated relative path, proven to stay under root. */
export function joinUnder(root: string, ...relPaths: string[]): string {
  return underRoot(root, path.join(root, ...relPaths.flatMap((r) => r.split("/"))));
}
