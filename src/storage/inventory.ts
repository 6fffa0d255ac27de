/**
 * Read-only inventory of one kind of Octopus folder (reference/octopus.md §4), for dry-run reports
 * and repair: what is there, in which layout, without holding the tree in memory.
 */
import { nodeFileOps, type FileOps } from "./file-ops.js";
import { walkTree } from "./walk.js";

export type FolderKind = "TaskLogs" | "Artifacts" | "Packages" | "Imports" | "EventExports";

export type Layout =
  /** TaskLogs/servertasks-<n>_<SUFFIX>.txt (up to 2025.2). */
  | "task-log"
  /** TaskLogs/servertasks-<n>_<SUFFIX>/<part>.tl.txt (2025.2.10530+). */
  | "task-log-part"
  /** TaskLogs/scheduledtasks_*.txt: the same names on every node. */
  | "scheduled-task-log"
  /** Packages/Spaces-N/feeds-builtin/<Id>/<Id>.<ver>.<ext> (2019.1+). */
  | "package"
  /** Packages/<Id>.<ver>.<ext> (before Spaces, 2019.1). */
  | "package-legacy"
  /** Anything else in the folder: copied as it is, keeping its relative path. */
  | "other";

export interface InventoryEntry {
  /** Relative to the kind's root, '/' separators. */
  relPath: string;
  size: number;
  mtimeMs: number;
  layout: Layout;
  /** Task id ("ServerTasks-123") for task logs and their parts. */
  taskId?: string;
}

const TASK_LOG = /^servertasks-(\d+)_[A-Za-z0-9]+\.txt$/i;
const TASK_LOG_DIR = /^servertasks-(\d+)_[A-Za-z0-9]+$/i;
const SCHEDULED = /^scheduledtasks_.+\.txt$/i;
const PACKAGE = /^spaces-\d+\/feeds-[^/]+\/[^/]+\/[^/]+$/i;
const PACKAGE_FILE = /\.(zip|nupkg|tar|tgz|tar\.gz|tar\.bz2|jar|war|ear|rar)$/i;

/** What an Octopus file is, from its path inside a kind's folder. */
export function classify(kind: FolderKind, relPath: string): Pick<InventoryEntry, "layout" | "taskId"> {
  const parts = relPath.split("/");
  if (kind === "TaskLogs") {
    const flat = parts.length === 1 ? TASK_LOG.exec(parts[0]!) : null;
    if (flat) return { layout: "task-log", taskId: `ServerTasks-${flat[1]}` };
    const dir = parts.length === 2 ? TASK_LOG_DIR.exec(parts[0]!) : null;
    if (dir && parts[1]!.toLowerCase().endsWith(".tl.txt")) return { layout: "task-log-part", taskId: `ServerTasks-${dir[1]}` };
    if (parts.length === 1 && SCHEDULED.test(parts[0]!)) return { layout: "scheduled-task-log" };
  }
  if (kind === "Packages") {
    if (PACKAGE.test(relPath)) return { layout: "package" };
    if (parts.length === 1 && PACKAGE_FILE.test(parts[0]!)) return { layout: "package-legacy" };
  }
  return { layout: "other" };
}

/**
 * Every regular file under root, classified for kind. Our own temp files and `.octoha` folder are
 * left out; unreadable sub-folders are skipped here (the copy reports them).
 */
export async function* inventory(root: string, kind: FolderKind, ops: FileOps = nodeFileOps): AsyncGenerator<InventoryEntry> {
  for await (const entries of walkTree(ops, root)) {
    for (const entry of entries) {
      if (entry.type === "file") yield { relPath: entry.relPath, size: entry.size, mtimeMs: entry.mtimeMs, ...classify(kind, entry.relPath) };
    }
  }
}
