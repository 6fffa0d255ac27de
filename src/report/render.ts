/** Picks the renderer for a dry-run report; JSON is the versioned report value itself. */
import type { Redactor } from "../shared/redact.js";
import type { DryRunReport } from "./model.js";
import { renderHtml } from "./render-html.js";
import { renderMarkdown } from "./render-md.js";

export type ReportFormat = "md" | "html" | "json";
export const REPORT_FORMATS: readonly ReportFormat[] = ["md", "html", "json"];

export function renderDryRun(report: DryRunReport, format: ReportFormat, redactor: Redactor): string {
  if (format === "html") return renderHtml(report, redactor);
  if (format === "md") return renderMarkdown(report, redactor);
  return redactor.redact(JSON.stringify(report, null, 2)) + "\n";
}
