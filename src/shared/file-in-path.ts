import { statSync } from "node:fs";
import path from "node:path";

/**
 * The first part of `p` that is a file where a folder must be (ENOTDIR names only the whole path).
 * Synchronous: it runs once, on the way to an error the run stops for. Links are followed, as the
 * call that failed followed them.
 */
export function fileInThePath(p: string): string | undefined {
  const parts: string[] = [];
  for (let at = path.dirname(p); at !== path.dirname(at); at = path.dirname(at)) parts.unshift(at);
  for (const at of [...parts, p]) {
    try {
      if (!statSync(at).isDirectory()) return at; // a link to a folder is a folder here
    } catch {
      return undefined;
    }
  }
  return undefined;
}
