/**
 * Path spellings of plan locations. Windows paths (drive or UNC) are compared with path.win32 and
 * case-insensitively whatever the host; POSIX paths with path.posix, case-sensitively.
 */
import path from "node:path";
import type { Location, Plan } from "./schema.js";
import type { FolderKind } from "../model/folders.js";
import { pathStyle } from "../shared/path-style.js";

/** Where this process reaches a location: `access` when given, else the `octopus` spelling. */
export function accessPath(loc: Location): string {
  return loc.access ?? loc.octopus;
}

/** A comparable form: normalised separators, no trailing separator, lower-cased for Windows. */
function comparable(p: string): string {
  const style = pathStyle(p);
  if (style === "windows") {
    const n = path.win32.normalize(p).replace(/[\\]+$/, "");
    return n.toLowerCase();
  }
  if (style === "posix") return path.posix.normalize(p).replace(/\/+$/, "") || "/";
  return p;
}

export type PathRelation = "same" | "inside" | "contains" | "apart";

/** How `a` relates to `b`: the same folder, inside it, containing it, or unrelated. */
export function relate(a: string, b: string): PathRelation {
  const sa = pathStyle(a);
  if (sa === "relative" || sa !== pathStyle(b)) return "apart";
  const ca = comparable(a);
  const cb = comparable(b);
  if (ca === cb) return "same";
  const sep = sa === "windows" ? "\\" : "/";
  const under = (child: string, parent: string): boolean => child.startsWith(parent.endsWith(sep) ? parent : parent + sep);
  if (under(ca, cb)) return "inside";
  if (under(cb, ca)) return "contains";
  return "apart";
}

/** A location in the plan with its JSON path, for rules that compare every pair. */
export interface PlacedLocation {
  /** JSON path of the Location object, e.g. "nodes[0].folders.taskLogs". */
  where: string;
  /** "taskLogs", …, or "clusterShared". */
  kind: FolderKind | "clusterShared";
  /** Index of the node it belongs to; undefined for shared storage. */
  node: number | undefined;
  loc: Location;
}

const SHARED_KEYS = ["clusterShared", "taskLogs", "artifacts", "packages", "imports", "eventExports"] as const;
const NODE_KEYS = ["taskLogs", "artifacts", "packages", "imports", "eventExports"] as const;

export function sharedLocations(plan: Plan): PlacedLocation[] {
  const out: PlacedLocation[] = [];
  for (const kind of SHARED_KEYS) {
    const loc = plan.shared[kind];
    if (loc) out.push({ where: `shared.${kind}`, kind, node: undefined, loc });
  }
  return out;
}

export function nodeLocations(plan: Plan): PlacedLocation[] {
  const out: PlacedLocation[] = [];
  plan.nodes.forEach((n, i) => {
    for (const kind of NODE_KEYS) {
      const loc = n.folders[kind];
      if (loc) out.push({ where: `nodes[${i}].folders.${kind}`, kind, node: i, loc });
    }
  });
  return out;
}
