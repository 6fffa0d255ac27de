/**
 * Names Octopus on Windows cannot open, found before the first byte is copied: a Linux node's disk
 * can hold `a:b.txt` or `CON.txt`, a Windows share cannot.
 */
import path from "node:path";
import type { NameProblem } from "../model/copy-results.js";
import { windowsNameProblem } from "../shared/names.js";

export { windowsNameProblem };

/**
 * MAX_PATH is 260 including the terminating NUL, so 259 characters is the longest path that
 * .NET Framework and Explorer open without long-path support.
 */
export const WINDOWS_MAX_PATH = 260;
/** The shortest folder Octopus could see a target as (a drive's root): a path too long under it is too long under any. */
const SHORTEST_ROOT = "C:\\";

/** Anything any of the three checks below could object to (windowsNameProblem's): one test for the common, clean name. */
const SUSPECT =
  /[:*?"<>|\\\u0000-\u001f]|[. ]$|^(con|prn|aux|nul|conin\$|conout\$|com[1-9\u00b9\u00b2\u00b3]|lpt[1-9\u00b9\u00b2\u00b3])( |\.|$)/i;
const NONE: readonly NameProblem[] = Object.freeze([]);

/**
 * Every problem with relPath ('/'-separated) as Octopus would see it under octopusRoot (a Windows
 * path). Without octopusRoot only the names are checked. lastSegments limits the name check to the
 * last N segments (the caller already checked the folder the file is in).
 */
export function nameProblems(relPath: string, octopusRoot: string | undefined, lastSegments?: number): readonly NameProblem[] {
  // The planning pass asks once per file: a clean last name in a short path costs one regex test.
  // (root + separator + relPath is never shorter than the joined Windows path.)
  if (lastSegments === 1 && !SUSPECT.test(relPath.slice(relPath.lastIndexOf("/") + 1))) {
    if ((octopusRoot?.length ?? SHORTEST_ROOT.length) + 1 + relPath.length < WINDOWS_MAX_PATH) return NONE;
  }
  const problems: NameProblem[] = [];
  const segments = relPath.split("/");
  for (const segment of lastSegments === undefined ? segments : segments.slice(-lastSegments)) {
    const detail = SUSPECT.test(segment) ? windowsNameProblem(segment) : undefined;
    if (detail) {
      problems.push({ relPath, problem: "invalid-windows-name", detail: `'${segment}' ${detail}` });
      break;
    }
  }
  const full = path.win32.join(octopusRoot ?? SHORTEST_ROOT, ...segments);
  if (full.length >= WINDOWS_MAX_PATH) {
    problems.push({
      relPath,
      problem: "path-too-long",
      detail:
        octopusRoot === undefined
          ? `${full.length - SHORTEST_ROOT.length} characters below the target folder: past Windows' limit of ${WINDOWS_MAX_PATH - 1} under any folder Octopus could see it in, without long-path support (give --octopus-path for the exact length)`
          : `${full.length} characters as Octopus sees it ('${full}'); Windows' limit is ${WINDOWS_MAX_PATH - 1} without long-path support`,
    });
  }
  return problems;
}
