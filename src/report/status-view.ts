/** Renders `octoha status` for people (a table); machines get the report itself in the --json envelope. */
import type { RunStatusReport } from "../model/run.js";
import type { Redactor } from "../shared/redact.js";

export function renderStatus(report: RunStatusReport, redactor: Redactor): string {
  const lines = [
    `Run ${report.runId}: ${report.outcome ? `${report.outcome.status} (exit ${report.outcome.exitCode})` : report.state}`,
    `Journal: ${report.journal}`,
  ];
  const width = Math.max(4, ...report.steps.map((s) => s.id.length));
  lines.push("", `${"STEP".padEnd(width)}  STATE         CHECKPOINTS`);
  for (const s of report.steps)
    lines.push(`${s.id.padEnd(width)}  ${s.state.padEnd(12)}  ${s.checkpoints}${s.lastError ? `  ${s.lastError}` : ""}`);
  if (report.lock) {
    lines.push(
      "",
      `Lock: run ${report.lock.id} (${report.lock.operation}) by ${report.lock.who}, pid ${report.lock.pid}, heartbeat ${report.lock.heartbeat}`,
    );
    if (report.lock.stale)
      lines.push(`  Stale: ${report.lock.staleReason ?? ""}. If no octoha is running here: ${report.lock.unlockCommand}`);
  }
  if (report.runningNow) lines.push("", `Running now: ${report.runningNow}`);
  else if (report.continueWith) lines.push("", `To continue it: ${report.continueWith}`);
  for (const w of report.warnings) lines.push(`warning: ${w}`);
  if (report.otherRuns.length) lines.push("", `Other runs: ${report.otherRuns.join(", ")}`);
  return `${redactor.redact(lines.join("\n"))}\n`;
}
