/**
 * The report after a run (migrate, preseed or repair): what was copied, which collisions were
 * resolved how, and which tasks' logs exist nowhere. Built from the step results the runner
 * journaled; rendered as Markdown or JSON, through the redactor.
 */
import type { Redactor } from "../shared/redact.js";
import type { CopyResult } from "../model/copy-results.js";
import type { VerifyCopyResult } from "../model/copy-results.js";
import { formatBytes, type CopyVolume, type DryRunReport } from "./model.js";
import {
  collisionSample,
  collisionTotals,
  kindsLine,
  nameList,
  nameProblemSample,
  type CollisionTotals,
  type ReportNameProblem,
} from "./bounded.js";
import { markdownValues, type MarkdownValues } from "./markdown.js";

const RUN_REPORT_FORMAT_VERSION = 1;

export interface RunReport {
  format: "octoha-run";
  formatVersion: typeof RUN_REPORT_FORMAT_VERSION;
  workflow: string;
  runId: string;
  copied: CopyVolume[];
  /** The first collisions; collisionTotals counts them all. */
  collisions: DryRunReport["collisions"];
  collisionTotals: CollisionTotals;
  /** Completed tasks whose logs exist on no node and not on shared storage (the first ones), and how many in all. */
  logsNowhere: string[];
  logsNowhereTotal: number;
  packagesMissing: string[];
  packagesMissingTotal: number;
  /**
   * Files the copies put on the share (or found there) whose name or path Octopus on Windows cannot
   * open: the first ones, and how many in all. The run copies them rather than stop mid-window.
   */
  nameProblems: ReportNameProblem[];
  nameProblemTotal: number;
  errors: string[];
  /** database.moveTo: which restore checks passed, which nodes were repointed and proven on the new database. */
  databaseMove?: DatabaseMoveReport;
  /** A repair that found nothing to repair (assess-repair): why; it drained, stopped and restarted no node. */
  nothingToRepair?: string;
}

export interface DatabaseMoveReport {
  from: string;
  to: string;
  checks: { check: string; passed: boolean; current: string; target: string }[];
  /** Node → "written" (its config names the new database) or "writing" (stopped while its command ran). */
  nodes: Record<string, string>;
  /** Nodes whose heartbeat advanced in the new database after the start (absent before verify-database ran). */
  proven?: string[];
  unverifiable?: string;
  /** Once every node was moved and started: what the administrator changes in the plan before later runs. */
  next?: string;
}

/** Said once every node runs on the new database: later runs must read it, and must not move again. */
export const MOVE_DONE_NEXT =
  "Before any later octoha run, point octopus.sql.connectionString's variable at the new database and remove database.moveTo " +
  "(and database.current) from the plan: the nodes no longer use the old database, and a run with moveTo still set would try to move them again.";

/** The journaled results of repoint-database and verify-database (names and counts only: no connection string). */
function databaseMoveReport(results: ReadonlyMap<string, unknown>): DatabaseMoveReport | undefined {
  type Name = { server: string; database: string };
  const r = results.get("repoint-database") as
    { from: Name; to: Name; checks: DatabaseMoveReport["checks"]; nodes: Record<string, string> } | undefined;
  if (!r) return undefined;
  const v = results.get("verify-database") as { proven?: Record<string, string>; unverifiable?: string } | undefined;
  const named = (d: Name) => `${d.database} on ${d.server}`;
  return {
    from: named(r.from),
    to: named(r.to),
    checks: r.checks,
    nodes: r.nodes,
    ...(v?.proven ? { proven: Object.keys(v.proven) } : {}),
    ...(v?.unverifiable ? { unverifiable: v.unverifiable } : {}),
    ...(v && Object.values(r.nodes).every((s) => s === "written") ? { next: MOVE_DONE_NEXT } : {}),
  };
}

/** `results` maps step id → the result its apply returned (or its last checkpoint). */
export function buildRunReport(o: {
  workflow: string;
  runId: string;
  results: ReadonlyMap<string, unknown>;
  errors?: string[];
}): RunReport {
  const copySteps = [...o.results.keys()].filter((id) => id.startsWith("copy-"));
  const ids = copySteps.length > 0 ? copySteps : o.results.has("preseed") ? ["preseed"] : [];
  const jobs = ids.flatMap((id) => (o.results.get(id) as CopyResult | undefined)?.jobs ?? []);
  const verify = o.results.get("verify-copy") as VerifyCopyResult | undefined;
  const collisions = collisionSample(jobs);
  const names = nameProblemSample(jobs);
  return {
    format: "octoha-run",
    formatVersion: RUN_REPORT_FORMAT_VERSION,
    workflow: o.workflow,
    runId: o.runId,
    copied: jobs.map((j) => ({
      kind: j.kind,
      node: j.node,
      files: j.filesCopied,
      bytes: j.bytesCopied,
      filesAlreadyThere: j.filesSkipped,
      filesUpdated: j.filesUpdated ?? 0,
    })),
    collisions,
    collisionTotals: collisionTotals(jobs, collisions.length),
    logsNowhere: verify?.logsNowhere ?? [],
    logsNowhereTotal: verify?.logsNowhereTotal ?? verify?.logsNowhere.length ?? 0,
    packagesMissing: verify?.packagesMissing ?? [],
    packagesMissingTotal: verify?.packagesMissingTotal ?? verify?.packagesMissing.length ?? 0,
    nameProblems: names.listed,
    nameProblemTotal: names.total,
    errors: o.errors ?? [],
    ...(databaseMoveReport(o.results) ? { databaseMove: databaseMoveReport(o.results)! } : {}),
    ...nothingToRepair(o.results),
  };
}

function nothingToRepair(results: ReadonlyMap<string, unknown>): { nothingToRepair?: string } {
  const r = results.get("assess-repair") as { needed?: boolean; reason?: string } | undefined;
  return r?.needed === false && typeof r.reason === "string" ? { nothingToRepair: r.reason } : {};
}

function databaseMoveMarkdown(m: DatabaseMoveReport, md: MarkdownValues): string[] {
  const out = ["## Database move", "", `From ${md.text(m.from)} to ${md.text(m.to)}. Restore checks (after the services stopped):`, ""];
  out.push("| check | current | target | |", "|---|---|---|---|");
  for (const c of m.checks)
    out.push(`| ${md.cell(c.check)} | ${md.cell(c.current)} | ${md.cell(c.target)} | ${c.passed ? "passed" : "DIFFERS"} |`);
  out.push(
    "",
    ...Object.entries(m.nodes).map(
      ([n, s]) => `- ${md.text(n)}: ${s === "written" ? `now names ${md.text(m.to)}` : "stopped while its command ran"}`,
    ),
  );
  if (m.unverifiable) out.push(`- not verified: ${md.text(m.unverifiable)}`);
  else if (m.proven) out.push(`- heartbeating into the new database after the start: ${md.text(m.proven.join(", ") || "none")}`);
  if (m.next) out.push("", `**Next:** ${md.text(m.next)}`);
  return [...out, ""];
}

function nameProblemsMarkdown(r: RunReport, md: MarkdownValues): string[] {
  const first = r.nameProblemTotal > r.nameProblems.length ? `; the first ${r.nameProblems.length}` : "";
  return [
    "## Names Windows cannot hold",
    "",
    `${r.nameProblemTotal} file(s) copied to the share (or already there) have a name or path Octopus on Windows cannot open${first}:`,
    "",
    ...r.nameProblems.map((p) => `- ${md.text(`${p.folder}/${p.relPath}`)} (from ${md.text(p.node)}): ${md.text(p.detail)}`),
    "",
    "Rename or remove each on its node and on the share (a path too long: or choose a shorter shared path).",
    "",
  ];
}

export function renderRunReportMarkdown(r: RunReport, redactor: Redactor): string {
  const md = markdownValues(redactor);
  const out = [`# octoha ${md.text(r.workflow)}: run ${md.text(r.runId)}`, ""];
  if (r.nothingToRepair !== undefined)
    out.push(
      `Nothing to repair: ${md.text(r.nothingToRepair)}. No node was drained, stopped or restarted; the cluster was only verified.`,
      "",
    );
  out.push("## Copied", "");
  if (r.copied.length === 0) out.push("Nothing copied.", "");
  else {
    out.push("| folder | node | files copied | bytes | already there |", "|---|---|---:|---:|---:|");
    for (const c of r.copied)
      out.push(
        `| ${md.cell(c.kind)} | ${md.cell(c.node)} | ${c.files}${c.filesUpdated ? ` (${c.filesUpdated} updated)` : ""} | ${formatBytes(c.bytes)} | ${c.filesAlreadyThere} |`,
      );
    out.push("");
  }
  out.push("## Collisions", "");
  const t = r.collisionTotals;
  if (t.total === 0) out.push("None.", "");
  else
    out.push(
      `${t.total} collision(s), ${kindsLine(t.byKind)}${t.total > r.collisions.length ? `; the first ${r.collisions.length}:` : ":"}`,
      "",
    );
  for (const c of r.collisions)
    out.push(
      `- ${md.text(`${c.folder}/${c.relPath}`)} (${c.kind}, from ${md.text(c.node)}): kept ${c.winner === "source" ? `${md.text(c.node)}'s copy` : "the copy already there"}; ` +
        `the other is at ${md.text(c.quarantinedAt ?? "(not quarantined)")}. ${md.text(c.reason)}`,
    );
  if (r.collisions.length) out.push("");
  out.push("## Task logs that exist nowhere", "");
  out.push(
    r.logsNowhereTotal
      ? `${r.logsNowhereTotal} completed task(s) have no log on any node or on shared storage: ${nameList(r.logsNowhere.map(md.text), r.logsNowhereTotal)}`
      : "None: every completed task has its log on shared storage.",
    "",
  );
  if (r.packagesMissingTotal) out.push("## Packages missing", "", nameList(r.packagesMissing.map(md.text), r.packagesMissingTotal), "");
  if (r.nameProblemTotal) out.push(...nameProblemsMarkdown(r, md));
  if (r.databaseMove) out.push(...databaseMoveMarkdown(r.databaseMove, md));
  if (r.errors.length) out.push("## Errors", "", ...r.errors.map((e) => `- ${md.text(e)}`), "");
  return redactor.redact(out.join("\n"));
}
