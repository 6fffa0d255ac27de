import { mkdir, stat } from "node:fs/promises";
import path from "node:path";
import { errnoOf } from "./errors.js";

/**
 * `mkdir -p` that fails with the reason the folder could not be made. Node's recursive mkdir
 * reports ENOENT when a folder cannot be made on a read-only mount (EROFS): it stats the folder it
 * failed to make and returns that error. An operator then read "Could not find a part of the path"
 * about a folder whose parent exists; making the first missing folder on its own says why.
 */
export async function makeFolder(folder: string): Promise<void> {
  try {
    await mkdir(folder, { recursive: true });
  } catch (error) {
    if (errnoOf(error) !== "ENOENT") throw error;
    try {
      await mkdir(await firstMissing(path.resolve(folder)));
    } catch (why) {
      if (errnoOf(why) !== "EEXIST") throw errnoOf(why) === "ENOENT" ? error : why;
    }
    // Made now (its parent appeared meanwhile, or another process made it): the rest can be made.
    await mkdir(folder, { recursive: true });
  }
}

/** The outermost folder of `folder` that does not exist (`folder` itself when its parent does). */
async function firstMissing(folder: string): Promise<string> {
  let missing = folder;
  for (let parent = path.dirname(missing); parent !== missing; missing = parent, parent = path.dirname(parent)) {
    const exists = await stat(parent).then(
      (s) => s.isDirectory(),
      () => false,
    );
    if (exists) break;
  }
  return missing;
}
