/** The end of `octoha copy` for humans: a short account, redacted (machines get the summary in the --json envelope). */
import { redactor } from "../shared/redact.js";
import type { CopySummary } from "../model/copy-results.js";
import { formatBytes, formatDuration, oneLine } from "./format.js";
import { countOf } from "../shared/plural.js";

export function renderCopySummaryText(summary: CopySummary, dryRun: boolean): string {
  const lines: string[] = [];
  const verb = dryRun ? "would copy" : "copied";
  lines.push(
    `${verb} ${countOf(summary.filesCopied, "file")} (${formatBytes(summary.bytesCopied)}), already there ${summary.filesSkipped} (${formatBytes(summary.bytesSkipped)}), ` +
      `quarantined ${summary.filesQuarantined ?? 0}, failed ${summary.errors.length}, in ${formatDuration(summary.durationMs / 1000)}`,
  );
  for (const w of summary.warnings ?? []) lines.push(`warning: ${w}`);
  if (summary.interrupted)
    lines.push(
      dryRun
        ? "interrupted: the dry-run stopped before it had looked at everything, so the counts above are partial; nothing was written. Re-run it for the whole plan."
        : "interrupted: temp files were removed; re-run the same command to resume (verified files are not copied again)",
    );
  for (const c of summary.collisions) {
    lines.push(
      `collision (${c.kind}) ${oneLine(c.relPath)} vs ${oneLine(c.targetRelPath)}: kept the ${c.winner === "source" ? "incoming" : "target's"} copy; ${c.reason}${c.quarantinedAt ? `; other copy at ${oneLine(c.quarantinedAt)}` : ""}`,
    );
  }
  if (summary.collisionsOmitted) lines.push(`… and ${summary.collisionsOmitted} more collisions (counted by kind in --json)`);
  for (const p of summary.nameProblems) lines.push(`name problem (${p.problem}) ${oneLine(p.relPath)}: ${oneLine(p.detail)}`);
  if (summary.nameProblemsOmitted) lines.push(`… and ${summary.nameProblemsOmitted} more name problems (use --json for the listed ones)`);
  if (summary.nameProblems.length > 0) lines.push(nameProblemsFix(summary, dryRun));
  // The message's own lines (its hint) stay; only the name is one line.
  for (const e of summary.errors) lines.push(`failed ${oneLine(e.relPath)} [${e.code}]: ${e.message}`);
  return redactor.redact(lines.join("\n")) + "\n";
}

/** What a name problem means for the copy and what to do: the lines above name the files only. */
function nameProblemsFix(summary: CopySummary, dryRun: boolean): string {
  const tooLong = summary.nameProblems.some((p) => p.problem === "path-too-long");
  return (
    `  these ${dryRun ? "would be" : "are"} copied all the same (not fatal), but Octopus on Windows cannot open them on the share: ` +
    `rename or remove them on the node${tooLong ? ", or choose a shorter shared folder for the paths too long" : ""}, and their copies in the target, then re-run.`
  );
}
