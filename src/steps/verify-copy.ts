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
import type { VerifyCopyResult } from "../model/copy-results.js";
import { OctohaError } from "../shared/errors.js";
import type { RunFacts } from "./facts.js";
import { taskNumberOf, taskNumberOfId } from "./task-log-owner.js";

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
}

/** Task numbers with a log in this TaskLogs folder (top-level names only; a missing folder has none). */
async function taskLogNumbers(dir: string): Promise<Set<number>> {
  const out = new Set<number>();
  try {
    for await (const e of await opendir(dir)) {
      const n = taskNumberOf(e.name);
      if (n !== undefined) out.add(n);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  return out;
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

async function check(deps: VerifyCopyDeps, includeShared: boolean): Promise<VerifyCopyResult> {
  const shared = includeShared ? await taskLogNumbers(deps.sharedTaskLogs) : new Set<number>();
  const onNodes = new Set<number>();
  for (const n of deps.nodeTaskLogs) for (const x of await taskLogNumbers(n.access)) onNodes.add(x);
  const result: VerifyCopyResult = { tasksChecked: 0, packagesChecked: 0, logsNotCopied: [], logsNowhere: [], packagesMissing: [] };
  for await (const t of deps.ports.inventory.tasks({ completedOnly: true })) {
    result.tasksChecked++;
    const n = taskNumberOfId(t.id);
    if (n === undefined || shared.has(n)) continue;
    (onNodes.has(n) ? result.logsNotCopied : result.logsNowhere).push(t.id);
  }
  const stems = includeShared ? await packageStems(deps.sharedPackages) : new Set<string>();
  if (!includeShared) for (const n of deps.nodePackages) for (const s of await packageStems(n.access)) stems.add(s);
  for await (const p of deps.ports.inventory.packages()) {
    result.packagesChecked++;
    if (!stems.has(packageKey(p))) result.packagesMissing.push(`${p.packageId} ${p.version}`);
  }
  return result;
}

const list = (xs: string[], max = 20) => `${xs.slice(0, max).join(", ")}${xs.length > max ? ` … and ${xs.length - max} more` : ""}`;

export function createVerifyCopyStep(deps: VerifyCopyDeps): Step<VerifyCopyResult, "verify-copy"> {
  const failures = (r: VerifyCopyResult) => [
    ...(r.logsNotCopied.length
      ? [`${r.logsNotCopied.length} task log(s) are on a node but not on shared storage: ${list(r.logsNotCopied)}`]
      : []),
    ...(r.packagesMissing.length
      ? [`${r.packagesMissing.length} package(s) the database indexes have no file in ${deps.sharedPackages}: ${list(r.packagesMissing)}`]
      : []),
    ...(r.logsNowhere.length && deps.logsMissingEverywhere === "fail"
      ? [`${r.logsNowhere.length} completed task(s) have a log nowhere: ${list(r.logsNowhere)}`]
      : []),
    // Not one log anywhere is not lost history, it is a plan pointing at the wrong folders.
    ...(r.tasksChecked > 0 && r.logsNowhere.length === r.tasksChecked
      ? [
          `none of the ${r.tasksChecked} completed tasks has a log on any node or on shared storage: the plan's TaskLogs folders are probably wrong`,
        ]
      : []),
  ];
  return {
    id: "verify-copy",
    title: "Prove every task log and indexed package is on shared storage",
    readOnly: true,
    async inspect() {
      // Before the copy, predict from the nodes' folders: what would still be missing afterwards.
      const r = await check(deps, false);
      const findings: Finding[] = [];
      if (r.logsNowhere.length)
        findings.push({
          severity: deps.logsMissingEverywhere === "fail" ? "error" : "warning",
          code: "TASK_LOGS_NOWHERE",
          summary: `${r.logsNowhere.length} completed task(s) have no log on any node: ${list(r.logsNowhere)}`,
          fix: "These logs are lost already; the run lists them in its report. Restore them from a backup into a node's TaskLogs folder if you have one.",
        });
      if (r.packagesMissing.length)
        findings.push({
          severity: "error",
          code: "PACKAGES_ON_NO_NODE",
          summary: `${r.packagesMissing.length} package(s) indexed in the database have no file on any node: ${list(r.packagesMissing)}`,
          fix: "Octopus drops index rows whose files are missing when it starts: restore those files into a node's Packages folder (or re-push them) before the run.",
        });
      return {
        changes: [],
        findings,
        facts: {
          tasksChecked: r.tasksChecked,
          packagesChecked: r.packagesChecked,
          logsNowhere: r.logsNowhere,
          packagesOnNoNode: r.packagesMissing,
        },
      };
    },
    async apply(ctx) {
      const r = await check(deps, true);
      await ctx.checkpoint(r);
      deps.facts.set("verify-copy", r);
      if (r.logsNowhere.length)
        ctx.emit({
          level: "warn",
          message: `${r.logsNowhere.length} completed task(s) have a log nowhere: ${list(r.logsNowhere)}`,
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
