/**
 * The report after a run (migrate, preseed or repair): what was copied, which collisions were
 * resolved how, and which tasks' logs exist nowhere. Built from the step results the runner
 * journaled; rendered as Markdown or JSON, through the redactor.
 */
import type { Redactor } from "../shared/redact.js";
import type { CopyResult } from "../model/copy-results.js";
import type { VerifyCopyResult } from "../model/copy-results.js";
import { formatBytes, type CopyVolume, type DryRunReport } from "./model.js";

const RUN_REPORT_FORMAT_VERSION = 1;

export interface RunReport {
  format: "octoha-run";
  formatVersion: typeof RUN_REPORT_FORMAT_VERSION;
  workflow: string;
  runId: string;
  copied: CopyVolume[];
  collisions: DryRunReport["collisions"];
  /** Completed tasks whose logs exist on no node and not on shared storage. */
  logsNowhere: string[];
  packagesMissing: string[];
  errors: string[];
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
    collisions: jobs.flatMap((j) => j.collisions.map((c) => ({ ...c, folder: j.kind, node: j.node }))),
    logsNowhere: verify?.logsNowhere ?? [],
    packagesMissing: verify?.packagesMissing ?? [],
    errors: o.errors ?? [],
  };
}

export function renderRunReportMarkdown(r: RunReport, redactor: Redactor): string {
  const out = [`# octoha ${r.workflow}: run ${r.runId}`, "", "## Copied", ""];
  if (r.copied.length === 0) out.push("Nothing copied.", "");
  else {
    out.push("| folder | node | files copied | bytes | already there |", "|---|---|---:|---:|---:|");
    for (const c of r.copied)
      out.push(
        `| ${c.kind} | ${c.node} | ${c.files}${c.filesUpdated ? ` (${c.filesUpdated} updated)` : ""} | ${formatBytes(c.bytes)} | ${c.filesAlreadyThere} |`,
      );
    out.push("");
  }
  out.push("## Collisions", "");
  if (r.collisions.length === 0) out.push("None.", "");
  for (const c of r.collisions)
    out.push(
      `- ${c.folder}/${c.relPath} (${c.kind}, from ${c.node}): kept ${c.winner === "source" ? `${c.node}'s copy` : "the copy already there"}; the other is at ${c.quarantinedAt ?? "(not quarantined)"}. ${c.reason}`,
    );
  if (r.collisions.length) out.push("");
  out.push("## Task logs that exist nowhere", "");
  out.push(
    r.logsNowhere.length
      ? `${r.logsNowhere.length} completed task(s) have no log on any node or on shared storage: ${r.logsNowhere.join(", ")}`
      : "None: every completed task has its log on shared storage.",
    "",
  );
  if (r.packagesMissing.length) out.push("## Packages missing", "", r.packagesMissing.join(", "), "");
  if (r.errors.length) out.push("## Errors", "", ...r.errors.map((e) => `- ${e}`), "");
  return redactor.redact(out.join("\n"));
}
