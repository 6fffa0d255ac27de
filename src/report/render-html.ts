/**
 * A self-contained HTML dry-run report: inline CSS, inline SVG charts (bytes and files per node
 * and folder; the estimated window), no external assets, no script.
 */
import type { Redactor } from "../shared/redact.js";
import { formatBytes, formatSeconds, type DryRunReport } from "./model.js";
import { kindsLine, REPORT_FINDING_ROWS, totalsOf } from "./bounded.js";

const escapeHtml = (s: unknown) =>
  String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

interface Bar {
  label: string;
  value: number;
  text: string;
}

/** Horizontal bar chart as inline SVG. */
function barChart(title: string, bars: Bar[]): string {
  const rowH = 22;
  const labelW = 200;
  const barW = 360;
  const max = Math.max(1, ...bars.map((b) => b.value));
  const h = bars.length * rowH + 30;
  const rows = bars
    .map((b, i) => {
      const y = 24 + i * rowH;
      const w = Math.max(1, Math.round((b.value / max) * barW));
      return `<text x="0" y="${y + 14}" class="l">${escapeHtml(b.label)}</text><rect x="${labelW}" y="${y + 2}" width="${w}" height="${rowH - 6}" class="b"/><text x="${labelW + w + 6}" y="${y + 14}" class="v">${escapeHtml(b.text)}</text>`;
    })
    .join("");
  return `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${escapeHtml(title)}" width="${labelW + barW + 120}" height="${h}"><text x="0" y="14" class="t">${escapeHtml(title)}</text>${rows}</svg>`;
}

const CSS = `body{font:14px/1.45 system-ui,Segoe UI,sans-serif;margin:2rem;color:#1b1f24;max-width:1100px}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ccd;padding:.25rem .5rem;text-align:left;vertical-align:top}
.error{color:#a40000}.warning{color:#8a5a00}.info{color:#345}.fix{color:#333;font-size:.92em}
code,pre{background:#f4f5f7;padding:.1rem .3rem;border-radius:3px}pre{padding:.6rem;overflow-x:auto}
svg .l,svg .v{font:12px system-ui,sans-serif;fill:#333}svg .t{font:bold 13px system-ui,sans-serif}svg .b{fill:#3b73b9}
.banner{padding:.6rem 1rem;border-radius:4px;background:#eef4ff}.banner.blocked{background:#fde8e8}`;

export function renderHtml(r: DryRunReport, redactor: Redactor): string {
  const e = escapeHtml;
  const per = r.copy.map((c) => ({ key: `${c.node} · ${c.kind}`, c }));
  const bytesChart = barChart(
    "Bytes to copy per node and folder",
    per.map(({ key, c }) => ({ label: key, value: c.bytes, text: formatBytes(c.bytes) })),
  );
  const filesChart = barChart(
    "Files to copy per node and folder",
    per.map(({ key, c }) => ({ label: key, value: c.files, text: String(c.files) })),
  );
  const est = r.estimate;
  const windowChart = barChart("Estimated window", [
    { label: "drain wait (upper bound)", value: est.drainWaitSeconds, text: formatSeconds(est.drainWaitSeconds) },
    { label: "log handles close", value: est.logHandleWaitSeconds, text: formatSeconds(est.logHandleWaitSeconds) },
    { label: "copy", value: est.copySeconds ?? 0, text: formatSeconds(est.copySeconds) },
  ]);
  const moreFindings = r.findings.length - REPORT_FINDING_ROWS;
  const findings = r.findings.length
    ? `<ul>${r.findings
        .slice(0, REPORT_FINDING_ROWS)
        .map(
          (f) =>
            `<li class="${f.severity}"><b>${e(f.severity.toUpperCase())}</b> [${e(f.step)}] ${e(f.summary)}${f.fix ? `<div class="fix">fix: ${e(f.fix)}</div>` : ""}</li>`,
        )
        .join("")}${moreFindings > 0 ? `<li>… and ${moreFindings} more findings (the JSON report lists them)</li>` : ""}</ul>`
    : "<p>None.</p>";
  const steps = r.steps
    .map(
      (s) =>
        `<h3>${e(s.id)}${s.requiresApproval ? " (asks for approval)" : ""}</h3><p>${e(s.title)}</p>${s.changes.length ? `<table><tr><th>action</th><th>what</th><th>before</th><th>after</th></tr>${s.changes.map((c) => `<tr><td>${e(c.action)}</td><td>${e(c.summary)}</td><td>${e(c.before === undefined ? "" : typeof c.before === "string" ? c.before : JSON.stringify(c.before))}</td><td>${e(c.after === undefined ? "" : typeof c.after === "string" ? c.after : JSON.stringify(c.after))}</td></tr>`).join("")}</table>` : ""}`,
    )
    .join("");
  const t = totalsOf(r);
  const totals = t.total
    ? `<p>${t.total} collision(s), ${e(kindsLine(t.byKind))}. The other copy is always kept (quarantined), never dropped.</p><table><tr><th>folder</th><th>node</th><th>collisions</th></tr>${t.perJob.map((j) => `<tr><td>${e(j.folder)}</td><td>${e(j.node)}</td><td>${j.count}</td></tr>`).join("")}</table>${t.total > r.collisions.length ? `<p>The first ${r.collisions.length} of ${t.total} (<code>--full-list FILE</code> writes every one as JSON Lines):</p>` : ""}`
    : "";
  const collisions = r.collisions.length
    ? `${totals}<table><tr><th>folder</th><th>file</th><th>node</th><th>kind</th><th>kept</th><th>reason</th></tr>${r.collisions.map((c) => `<tr><td>${e(c.folder)}</td><td>${e(c.relPath)}</td><td>${e(c.node)}</td><td>${e(c.kind)}</td><td>${c.winner === "source" ? `${e(c.node)}'s copy` : c.targetNode ? `${e(c.targetNode)}'s copy` : "target's copy"}</td><td>${e(c.reason)}</td></tr>`).join("")}</table>`
    : totals || "<p>None.</p>";
  const space = `<table><tr><th>folder</th><th>path</th><th>needed</th><th>free</th></tr>${r.freeSpace.map((f) => `<tr><td>${e(f.kind)}</td><td>${e(f.path)}</td><td>${formatBytes(f.bytesNeeded)}</td><td class="${f.enough === false ? "error" : ""}">${formatBytes(f.freeBytes)}</td></tr>`).join("")}</table>`;
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>octoha dry-run: ${e(r.workflow)}</title><style>${CSS}</style></head><body>
<h1>octoha dry-run: ${e(r.workflow)}</h1>
<p>Plan <code>${e(r.planFile)}</code> · Octopus ${e(r.octopusVersion ?? "version unknown")} · folders moved: ${e(r.kinds.join(", ") || "none")} · ${e(r.generatedAt)}</p>
<p class="banner${r.blocked ? " blocked" : ""}">${r.blocked ? "A run would stop: fix the errors below first." : r.wouldChange ? "A run would change the items below. Nothing has been changed." : "Nothing would change."}</p>
<h2>Preflight findings</h2>${findings}
<h2>Data to copy</h2>${bytesChart}${filesChart}
<h2>Estimated window</h2>${windowChart}<p>Total: ${e(formatSeconds(est.totalSeconds))}. ${e(est.basis)}.</p>
<h2>Command repath runs</h2>${r.pathCommand ? `<pre>${e(r.pathCommand)}</pre>` : "<p>No folder changes.</p>"}
<h2>Collisions</h2>${collisions}
<h2>Free space</h2>${space}
<h2>Steps</h2>${steps}
</body></html>
`;
  return redactor.redact(html);
}
