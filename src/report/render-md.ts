/** Markdown rendering of a dry-run report (the terminal view). */
import type { Change } from "../model/preview.js";
import type { Redactor } from "../shared/redact.js";
import { formatBytes, formatSeconds, type DryRunReport } from "./model.js";
import { kindsLine, REPORT_FINDING_ROWS, totalsOf } from "./bounded.js";
import { markdownValues, type MarkdownValues } from "./markdown.js";

const show = (v: unknown) => (v === undefined ? "—" : typeof v === "string" ? v : JSON.stringify(v));

function changeLine(c: Change, md: MarkdownValues): string {
  const arrow = c.before !== undefined || c.after !== undefined ? ` (${md.text(show(c.before))} → ${md.text(show(c.after))})` : "";
  return `- \`${c.action}\` ${md.text(c.summary)}${c.action === "update" && !c.summary.includes("→") ? arrow : ""}`;
}

export function renderMarkdown(r: DryRunReport, redactor: Redactor): string {
  const md = markdownValues(redactor);
  const cell = md.cell;
  const out: string[] = [];
  out.push(`# octoha dry-run: ${md.text(r.workflow)}`, "");
  out.push(
    `Plan ${md.code(r.planFile)} · Octopus ${md.text(r.octopusVersion ?? "version unknown")} · folders moved: ${md.text(r.kinds.join(", ") || "none")} · ${md.text(r.generatedAt)}`,
    "",
  );
  out.push(
    r.blocked
      ? "**A run would stop: fix the errors below first.**"
      : r.wouldChange
        ? "A run would change the items below. Nothing has been changed."
        : "Nothing would change.",
    "",
  );

  out.push("## Preflight findings", "");
  if (r.findings.length === 0) out.push("None.", "");
  for (const f of r.findings.slice(0, REPORT_FINDING_ROWS)) {
    out.push(`- **${f.severity.toUpperCase()}** [${md.text(f.step)}] ${md.text(f.summary)}${f.fix ? `\n  - fix: ${md.text(f.fix)}` : ""}`);
  }
  if (r.findings.length > REPORT_FINDING_ROWS)
    out.push(`- … and ${r.findings.length - REPORT_FINDING_ROWS} more findings (--format json lists them)`);
  if (r.findings.length) out.push("");

  out.push("## Steps", "");
  for (const s of r.steps) {
    out.push(`### ${md.text(s.id)}${s.requiresApproval ? " (asks for approval)" : ""}`, "", md.text(s.title), "");
    if (s.error) out.push(`Could not preview: ${md.text(s.error)}`, "");
    for (const c of s.changes) out.push(changeLine(c, md));
    if (s.changes.length) out.push("");
  }

  if (r.pathCommand) out.push("## Command repath runs", "", ...md.block(r.pathCommand), "");

  out.push("## Data to copy", "");
  if (r.copy.length === 0) out.push("Nothing to copy.", "");
  else {
    out.push("| folder | node | files | bytes | already there |", "|---|---|---:|---:|---:|");
    for (const c of r.copy)
      out.push(`| ${cell(c.kind)} | ${cell(c.node)} | ${c.files} | ${formatBytes(c.bytes)} | ${c.filesAlreadyThere} |`);
    out.push("");
  }

  out.push("## Collisions", "");
  const t = totalsOf(r);
  if (t.total === 0) out.push("None.", "");
  else {
    out.push(`${t.total} collision(s), ${md.text(kindsLine(t.byKind))}. The other copy is always kept (quarantined), never dropped.`, "");
    out.push("| folder | node | collisions |", "|---|---|---:|");
    for (const j of t.perJob) out.push(`| ${cell(j.folder)} | ${cell(j.node)} | ${j.count} |`);
    out.push("");
    if (t.total > r.collisions.length)
      out.push(`The first ${r.collisions.length} of ${t.total} (\`--full-list FILE\` writes every one as JSON Lines):`, "");
  }
  if (r.collisions.length > 0) {
    out.push("| folder | file | node | kind | kept | reason |", "|---|---|---|---|---|---|");
    for (const c of r.collisions)
      out.push(
        `| ${cell(c.folder)} | ${cell(c.relPath)} | ${cell(c.node)} | ${c.kind} | ${c.winner === "source" ? `${cell(c.node)}'s copy` : c.targetNode ? `${cell(c.targetNode)}'s copy` : "target's copy"} | ${cell(c.reason)} |`,
      );
    out.push("");
  }

  out.push("## Free space", "");
  out.push("| folder | path | needed | free |", "|---|---|---:|---:|");
  for (const f of r.freeSpace)
    out.push(
      `| ${cell(f.kind)} | ${cell(f.path)} | ${formatBytes(f.bytesNeeded)} | ${formatBytes(f.freeBytes)}${f.enough === false ? " **not enough**" : ""} |`,
    );
  out.push("");

  const e = r.estimate;
  out.push("## Estimated window", "");
  out.push(
    `- drain wait: up to ${formatSeconds(e.drainWaitSeconds)}`,
    `- log handles: ${formatSeconds(e.logHandleWaitSeconds)}`,
    `- copy: ${formatSeconds(e.copySeconds)}${e.rateBytesPerSecond ? ` at ${formatBytes(e.rateBytesPerSecond)}/s` : ""}`,
    `- total: ${formatSeconds(e.totalSeconds)}`,
    `- basis: ${md.text(e.basis)}`,
    "",
  );
  return redactor.redact(out.join("\n"));
}
