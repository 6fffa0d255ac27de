/**
 * verify-copy: proves completeness against the database before any node starts.
 * - Every completed task has its log in the shared TaskLogs (by `servertasks-<n>_` prefix,
 *   case-insensitive; a flat file or a per-task directory). A log found on a node but not shared
 *   is a failed copy; a log found nowhere is listed (fatal only when the workflow says so).
 * - Every built-in feed package the database indexes has its file under the shared Packages folder:
 *   Octopus re-indexes at start and drops rows whose files are missing.
 */
import { opendir } from "node:fs/promises";
import path from "node:path";
import type { DatabaseInventory, PackageRow } from "../octopus/types.js";
import type { Step } from "../runner/step.js";
import type { Finding } from "../model/preview.js";
import { VERIFY_LIST_LIMIT, type FullListSink, type VerifyCopyResult } from "../model/copy-results.js";
import { OctohaError } from "../shared/errors.js";
import type { RunFacts } from "./facts.js";
import { taskNumberOf, taskNumberOfId } from "./task-log-owner.js";
import { TaskNumberMap } from "./task-number-map.js";

export interface VerifyCopyDeps {
  ports: { inventory: DatabaseInventory };
  facts: RunFacts;
  /** Shared folders as this process reaches them. */
  sharedTaskLogs: string;
  sharedPackages: string;
  /** Every node's local folders (access paths), to tell "not copied" from "exists nowhere". */
  nodeTaskLogs: { node: string; access: string }[];
  nodePackages: { node: string; access: string }[];
  /** migrate: a log that exists nowhere fails the step; repair: it is listed. */
  logsMissingEverywhere: "fail" | "list";
  /** Dry-run `--full-list`: every task log found nowhere and package on no node, beyond the listed ones. */
  fullList?: FullListSink;
}

/** Task numbers with a log in these TaskLogs folders (top-level names only; a missing folder has none). */
export async function taskLogNumbers(dirs: readonly string[]): Promise<TaskNumberMap> {
  const out = new TaskNumberMap();
  for (const dir of dirs) await addTaskLogNumbers(dir, out);
  return out;
}

async function addTaskLogNumbers(dir: string, out: TaskNumberMap): Promise<void> {
  try {
    for await (const e of await opendir(dir)) {
      const n = taskNumberOf(e.name);
      if (n !== undefined) out.set(n);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
}

/** A problem list that keeps the first VERIFY_LIST_LIMIT names and counts every one. */
class BoundedList {
  readonly names: string[] = [];
  total = 0;
  constructor(
    private readonly onName?: (name: string) => void,
    private readonly limit = VERIFY_LIST_LIMIT,
  ) {}
  add(name: string): void {
    this.total++;
    this.onName?.(name);
    if (this.names.length < this.limit) this.names.push(name);
  }
}

const PACKAGE_EXTENSIONS = [".tar.gz", ".tar.bz2", ".nupkg", ".zip", ".tgz", ".tar", ".jar", ".war", ".ear", ".rar"];

/** "Acme.1.4.0.zip" → "acme.1.4.0"; undefined for files that are not packages. */
export function packageStem(fileName: string): string | undefined {
  const lower = fileName.toLowerCase();
  const ext = PACKAGE_EXTENSIONS.find((e) => lower.endsWith(e));
  return ext ? lower.slice(0, -ext.length) : undefined;
}

const packageKey = (p: Pick<PackageRow, "packageId" | "version">) => `${p.packageId}.${p.version}`.toLowerCase();

/** Stems of every package file anywhere under a Packages folder (flat, or per space/feed). */
async function packageStems(dir: string): Promise<Set<string>> {
  const out = new Set<string>();
  const walk = async (d: string): Promise<void> => {
    let handle;
    try {
      handle = await opendir(d);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw error;
    }
    for await (const e of handle) {
      if (e.isDirectory()) {
        if (e.name !== ".octoha") await walk(path.join(d, e.name));
      } else {
        const stem = packageStem(e.name);
        if (stem) out.add(stem);
      }
    }
  };
  await walk(dir);
  return out;
}

/**
 * Streams the completed tasks (keyset-paged by the inventory, one page in memory) against compact
 * sets of the task numbers that have a log; the problem lists keep their first names and counts.
 */
async function check(deps: VerifyCopyDeps, includeShared: boolean, fullList?: FullListSink): Promise<VerifyCopyResult> {
  const shared = await taskLogNumbers(includeShared ? [deps.sharedTaskLogs] : []);
  const onNodes = await taskLogNumbers(deps.nodeTaskLogs.map((n) => n.access));
  const step = "verify-copy";
  const notCopied = new BoundedList();
  // The first ones, as for every list (verify-octopus finds the others again when it needs them).
  const nowhere = new BoundedList(fullList && ((name) => fullList({ list: "task-log-nowhere", step, name })));
  const missing = new BoundedList(fullList && ((name) => fullList({ list: "package-on-no-node", step, name })));
  let tasksChecked = 0;
  let packagesChecked = 0;
  for await (const t of deps.ports.inventory.tasks({ completedOnly: true })) {
    tasksChecked++;
    const n = taskNumberOfId(t.id);
    if (n === undefined || shared.has(n)) continue;
    (onNodes.has(n) ? notCopied : nowhere).add(t.id);
  }
  const stems = includeShared ? await packageStems(deps.sharedPackages) : new Set<string>();
  if (!includeShared) for (const n of deps.nodePackages) for (const s of await packageStems(n.access)) stems.add(s);
  for await (const p of deps.ports.inventory.packages()) {
    packagesChecked++;
    if (!stems.has(packageKey(p))) missing.add(`${p.packageId} ${p.version}`);
  }
  return {
    tasksChecked,
    packagesChecked,
    logsNotCopied: notCopied.names,
    logsNowhere: nowhere.names,
    packagesMissing: missing.names,
    logsNotCopiedTotal: notCopied.total,
    logsNowhereTotal: nowhere.total,
    packagesMissingTotal: missing.total,
  };
}

/** How many a result's list stands for (results journaled before the totals existed list every name). */
const totalOf = (names: string[], total: number | undefined) => total ?? names.length;
const list = (xs: string[], total: number, max = 20) =>
  `${xs.slice(0, max).join(", ")}${total > Math.min(max, xs.length) ? ` … and ${total - Math.min(max, xs.length)} more` : ""}`;

export function createVerifyCopyStep(deps: VerifyCopyDeps): Step<VerifyCopyResult, "verify-copy"> {
  const failures = (r: VerifyCopyResult) => {
    const notCopied = totalOf(r.logsNotCopied, r.logsNotCopiedTotal);
    const missing = totalOf(r.packagesMissing, r.packagesMissingTotal);
    const nowhere = totalOf(r.logsNowhere, r.logsNowhereTotal);
    return [
      ...(notCopied ? [`${notCopied} task log(s) are on a node but not on shared storage: ${list(r.logsNotCopied, notCopied)}`] : []),
      ...(missing
        ? [`${missing} package(s) the database indexes have no file in ${deps.sharedPackages}: ${list(r.packagesMissing, missing)}`]
        : []),
      ...(nowhere && deps.logsMissingEverywhere === "fail"
        ? [`${nowhere} completed task(s) have a log nowhere: ${list(r.logsNowhere, nowhere)}`]
        : []),
      // Not one log anywhere is not lost history, it is a plan pointing at the wrong folders.
      ...(r.tasksChecked > 0 && nowhere === r.tasksChecked
        ? [
            `none of the ${r.tasksChecked} completed tasks has a log on any node or on shared storage: the plan's TaskLogs folders are probably wrong`,
          ]
        : []),
    ];
  };
  return {
    id: "verify-copy",
    title: "Prove every task log and indexed package is on shared storage",
    readOnly: true,
    async inspect() {
      // Before the copy, predict from the nodes' folders: what would still be missing afterwards.
      const r = await check(deps, false, deps.fullList);
      const findings: Finding[] = [];
      const nowhere = totalOf(r.logsNowhere, r.logsNowhereTotal);
      const missing = totalOf(r.packagesMissing, r.packagesMissingTotal);
      if (nowhere)
        findings.push({
          severity: deps.logsMissingEverywhere === "fail" ? "error" : "warning",
          code: "TASK_LOGS_NOWHERE",
          summary: `${nowhere} completed task(s) have no log on any node: ${list(r.logsNowhere, nowhere)}`,
          fix: "These logs are lost already; the run lists them in its report. Restore them from a backup into a node's TaskLogs folder if you have one.",
        });
      if (missing)
        findings.push({
          severity: "error",
          code: "PACKAGES_ON_NO_NODE",
          summary: `${missing} package(s) indexed in the database have no file on any node: ${list(r.packagesMissing, missing)}`,
          fix: "Octopus drops index rows whose files are missing when it starts: restore those files into a node's Packages folder (or re-push them) before the run.",
        });
      return {
        changes: [],
        findings,
        facts: {
          tasksChecked: r.tasksChecked,
          packagesChecked: r.packagesChecked,
          logsNowhere: r.logsNowhere,
          logsNowhereTotal: nowhere,
          packagesOnNoNode: r.packagesMissing,
          packagesOnNoNodeTotal: missing,
        },
      };
    },
    async apply(ctx) {
      const r = await check(deps, true);
      await ctx.checkpoint(r);
      deps.facts.set("verify-copy", r);
      const nowhere = totalOf(r.logsNowhere, r.logsNowhereTotal);
      if (nowhere)
        ctx.emit({
          level: "warn",
          message: `${nowhere} completed task(s) have a log nowhere: ${list(r.logsNowhere, nowhere)}`,
          data: { tasks: r.logsNowhere },
        });
      const problems = failures(r);
      if (problems.length > 0) {
        throw new OctohaError("Shared storage is incomplete; no node has been started", {
          code: "VERIFY_COPY_FAILED",
          step: "verify-copy",
          // A resume retries this check only (the copy steps are done), so the files go straight to shared storage.
          hint: `${problems.join("\n")}\nCopy the missing files into the shared folders (${deps.sharedPackages}, ${deps.sharedTaskLogs}) with the layout the nodes use (Packages: Spaces-<n>/feeds-builtin/<PackageId>/<PackageId>.<version>.<ext>), then run \`octoha resume\`: it checks again before any node starts. Octopus drops packages whose files are missing when it re-indexes.`,
        });
      }
      return r;
    },
    async verify() {
      const r = await check(deps, true);
      const problems = failures(r);
      return {
        ok: problems.length === 0,
        summary:
          problems.length === 0
            ? `${r.tasksChecked} task(s) and ${r.packagesChecked} package(s) accounted for`
            : "shared storage incomplete",
        problems,
      };
    },
    async rollback() {
      // Read-only step.
    },
  };
}
