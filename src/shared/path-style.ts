/**
 * How a path is spelled, whatever host octoha runs on: a Windows path (a drive letter, or a UNC path
 * with at least a share), a POSIX path, or neither. Plan locations and `copy --octopus-path` read it.
 */
export type PathStyle = "windows" | "posix" | "relative";

const DRIVE_ROOTED = /^[A-Za-z]:[\\/]/;
/** \\server\share (at least a share) — a bare \\server is not a usable folder. */
const UNC = /^[\\/]{2}[^\\/?.][^\\/]*[\\/]+[^\\/]+/;

/** Classifies a path by its spelling, not by the host octoha runs on. */
export function pathStyle(p: string): PathStyle {
  if (DRIVE_ROOTED.test(p) || UNC.test(p)) return "windows";
  if (p.startsWith("/") && !p.startsWith("//")) return "posix";
  return "relative";
}
