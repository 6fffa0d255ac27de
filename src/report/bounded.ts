/**
 * Reports of a million-file plan stay small enough to open: every table lists the first rows and
 * says how many more there are; totals are counted over everything. The full lists go to a
 * separate JSON Lines file only when asked (`dry-run --full-list FILE`).
 */
import { collisionCount, type Collision, type CollisionKind, type CopyJobResult, type NameProblem } from "../model/copy-results.js";

/** Rows a report's collision table lists (across folders and nodes). */
export const REPORT_COLLISION_ROWS = 200;
/** Findings a Markdown or HTML report lists (the JSON report has them all: steps bound their own). */
export const REPORT_FINDING_ROWS = 200;
/** Names Windows cannot hold a run report lists (across folders and nodes). */
export const REPORT_NAME_PROBLEM_ROWS = 200;
/** Names a report lists inline for one problem (missing logs, packages). */
export const REPORT_NAME_LIST = 50;

export type ReportCollision = Collision & { folder: string; node: string };

export interface CollisionTotals {
  /** Every collision the copies found, listed or not. */
  total: number;
  /** How many the report lists (the first ones, in copy order). */
  listed: number;
  byKind: Partial<Record<CollisionKind, number>>;
  perJob: { folder: string; node: string; count: number }[];
}

export function collisionTotals(jobs: readonly CopyJobResult[], listed: number): CollisionTotals {
  const byKind: Partial<Record<CollisionKind, number>> = {};
  const perJob: CollisionTotals["perJob"] = [];
  let total = 0;
  for (const j of jobs) {
    const count = collisionCount(j);
    total += count;
    if (count > 0) perJob.push({ folder: j.kind, node: j.node, count });
    // Results journaled before the counts existed list every collision: count those.
    const kinds =
      j.collisionsByKind ??
      j.collisions.reduce<Partial<Record<CollisionKind, number>>>((a, c) => ((a[c.kind] = (a[c.kind] ?? 0) + 1), a), {});
    for (const [k, n] of Object.entries(kinds) as [CollisionKind, number][]) byKind[k] = (byKind[k] ?? 0) + n;
  }
  return { total, listed, byKind, perJob };
}

/** A report's totals; one written before they existed listed every collision, so they are counted from the list. */
export function totalsOf(r: { collisions: readonly ReportCollision[]; collisionTotals?: CollisionTotals }): CollisionTotals {
  if (r.collisionTotals) return r.collisionTotals;
  const byKind: Partial<Record<CollisionKind, number>> = {};
  const perJob = new Map<string, CollisionTotals["perJob"][number]>();
  for (const c of r.collisions) {
    byKind[c.kind] = (byKind[c.kind] ?? 0) + 1;
    const key = `${c.folder}\u0000${c.node}`;
    const j = perJob.get(key) ?? { folder: c.folder, node: c.node, count: 0 };
    j.count++;
    perJob.set(key, j);
  }
  return { total: r.collisions.length, listed: r.collisions.length, byKind, perJob: [...perJob.values()] };
}

/** The first `limit` collisions over the jobs, in order, each with its folder and node. */
export function collisionSample(jobs: readonly CopyJobResult[], limit = REPORT_COLLISION_ROWS): ReportCollision[] {
  const out: ReportCollision[] = [];
  for (const j of jobs)
    for (const c of j.collisions) {
      if (out.length >= limit) return out;
      out.push({ ...c, folder: j.kind, node: j.node });
    }
  return out;
}

export type ReportNameProblem = NameProblem & { folder: string; node: string };

/** The first `limit` name problems over the jobs, in order, each with its folder and node, and how many there are in all. */
export function nameProblemSample(
  jobs: readonly CopyJobResult[],
  limit = REPORT_NAME_PROBLEM_ROWS,
): { listed: ReportNameProblem[]; total: number } {
  const listed: ReportNameProblem[] = [];
  let total = 0;
  for (const j of jobs) {
    total += j.nameProblems.length + (j.nameProblemsOmitted ?? 0);
    for (const p of j.nameProblems.slice(0, Math.max(0, limit - listed.length))) listed.push({ ...p, folder: j.kind, node: j.node });
  }
  return { listed, total };
}

/** "a, b, c … and 97 more" from the listed names and the total. */
export function nameList(names: readonly string[], total = names.length, max = REPORT_NAME_LIST): string {
  const shown = names.slice(0, max);
  return `${shown.join(", ")}${total > shown.length ? ` … and ${total - shown.length} more` : ""}`;
}

/** "by kind: 3 different-bytes, 1 case-only". */
export function kindsLine(byKind: CollisionTotals["byKind"]): string {
  const parts = Object.entries(byKind).map(([k, n]) => `${n} ${k}`);
  return parts.length ? `by kind: ${parts.join(", ")}` : "";
}
