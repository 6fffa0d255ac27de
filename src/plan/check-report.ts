/** Human text for `octoha check` (the JSON view is the CheckReport itself). */
import type { CheckReport } from "./checks.js";

export function renderCheckReport(report: CheckReport): string {
  const lines: string[] = [];
  const findings = report.results.flatMap((r) => r.findings);
  const errors = findings.filter((f) => f.severity === "error").length;
  lines.push(
    report.ok ? `Plan ${report.plan} is valid.` : `Plan ${report.plan}: ${errors} problem${errors === 1 ? "" : "s"}; nothing was changed.`,
  );
  for (const r of report.results) {
    lines.push(`${r.findings.some((f) => f.severity === "error") ? "✗" : "✓"} ${r.title}`);
    for (const f of r.findings) lines.push(`  ${f.severity}: ${f.summary}`, ...(f.fix ? [`    fix: ${f.fix}`] : []));
  }
  return `${lines.join("\n")}\n`;
}
