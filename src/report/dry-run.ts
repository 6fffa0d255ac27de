/**
 * The dry-run report: what a run would do, built from every step's preview (src/operations/dry-run.ts
 * inspects the steps): findings once each, copy volume, collisions, free space, the estimated window.
 */
import type { Finding } from "../model/preview.js";
import type { Redactor } from "../shared/redact.js";
import type { CopyJobResult } from "../model/copy-results.js";
import { collisionSample, collisionTotals } from "./bounded.js";
import { DRY_RUN_FORMAT_VERSION, type CopyVolume, type DryRunReport, type StepPreviewReport } from "./model.js";

export interface DryRunInputs {
  workflow: string;
  planFile: string;
  /** Every step's preview, in workflow order. */
  previews: readonly StepPreviewReport[];
  /** The facts each step's inspect reported, by step id. */
  facts: ReadonlyMap<string, Record<string, unknown>>;
  redactor: Redactor;
  now?: () => number;
}

/** Steps whose changes the run itself undoes before it ends. */
const WINDOW_STEPS = new Set(["drain-nodes", "maintenance-on", "stop-services", "start-services", "maintenance-off", "undrain"]);

const SEVERITY_ORDER = { error: 0, warning: 1, info: 2 } as const;

export function buildDryRunReport(o: DryRunInputs): DryRunReport {
  const { previews, facts } = o;
  // The preseed and the window copy preview the same files: report each finding once.
  const seen = new Set<string>();
  const findings = previews
    .flatMap((p) => p.findings.map((f): Finding & { step: string } => ({ ...f, step: p.id })))
    .filter((f) => {
      const key = `${f.code}|${f.node ?? ""}|${f.path ?? ""}|${f.summary}`;
      return seen.has(key) ? false : (seen.add(key), true);
    })
    .sort((a, b) => SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity]);

  // The window copy (copy-*) when the workflow has one, else the preseed: never both (same files).
  const copySteps = previews.map((p) => p.id).filter((id) => id.startsWith("copy-"));
  const volumeSource = copySteps.length > 0 ? copySteps : ["preseed"];
  const jobs = volumeSource.flatMap((id) => (facts.get(id)?.["jobs"] as CopyJobResult[] | undefined) ?? []);
  const copy: CopyVolume[] = jobs.map((j) => ({
    kind: j.kind,
    node: j.node,
    files: j.filesCopied,
    bytes: j.bytesCopied,
    filesAlreadyThere: j.filesSkipped,
  }));
  const collisions = collisionSample(jobs);
  const rate = volumeSource.map((id) => facts.get(id)?.["rateBytesPerSecond"]).find((r): r is number => typeof r === "number" && r > 0);

  const pre = facts.get("preflight") ?? {};
  const targets = (pre["targets"] as { kind: string; access: string; check: { freeBytes?: number } }[] | undefined) ?? [];
  const freeSpace = targets.map((t) => {
    const bytesNeeded = copy.filter((c) => c.kind === t.kind).reduce((a, c) => a + c.bytes, 0);
    return {
      kind: t.kind,
      path: t.access,
      freeBytes: t.check.freeBytes,
      bytesNeeded,
      enough: t.check.freeBytes === undefined ? undefined : t.check.freeBytes >= bytesNeeded,
    };
  });
  for (const f of freeSpace) {
    if (f.enough === false)
      findings.unshift({
        step: "preflight",
        severity: "error",
        code: "NOT_ENOUGH_SPACE",
        path: f.path,
        summary: `${f.kind}: ${f.bytesNeeded} bytes to copy but ${f.freeBytes} free at ${f.path}`,
        fix: "Grow the share or free space on it before the window.",
      });
  }

  const drain = facts.get("drain-nodes");
  const running = (drain?.["runningTasks"] as string[] | undefined) ?? [];
  const drainWaitSeconds = drain && running.length > 0 ? Number(drain["drainTimeoutMinutes"] ?? 0) * 60 : 0;
  const logHandleWaitSeconds = drain ? Number(drain["logHandleWaitSeconds"] ?? 0) : 0;
  const totalBytes = copy.reduce((a, c) => a + c.bytes, 0);
  const copySeconds = rate ? totalBytes / rate : totalBytes === 0 ? 0 : undefined;
  const estimate = {
    rateBytesPerSecond: rate,
    copySeconds,
    drainWaitSeconds,
    logHandleWaitSeconds,
    totalSeconds: copySeconds === undefined ? undefined : copySeconds + drainWaitSeconds + logHandleWaitSeconds,
    basis: `${totalBytes === 0 ? "nothing to copy" : rate ? "copy time from a measured read sample" : "no measured copy rate: copy time unknown"}; drain wait is the plan's timeout when tasks run now (upper bound)`,
  };

  const pathCommand = facts.get("repath")?.["command"];
  const report: DryRunReport = {
    format: "octoha-dry-run",
    formatVersion: DRY_RUN_FORMAT_VERSION,
    generatedAt: new Date((o.now ?? Date.now)()).toISOString(),
    workflow: o.workflow,
    planFile: o.planFile,
    octopusVersion: typeof pre["version"] === "string" ? pre["version"] : undefined,
    ...(Array.isArray(pre["nodes"]) ? { nodes: pre["nodes"] as NonNullable<DryRunReport["nodes"]> } : {}),
    kinds: (pre["kinds"] as string[] | undefined) ?? [],
    findings,
    steps: [...previews],
    pathCommand: typeof pathCommand === "string" ? pathCommand : undefined,
    collisions,
    collisionTotals: collisionTotals(jobs, collisions.length),
    copy,
    freeSpace,
    estimate,
    wouldChange: previews.some((p) => !WINDOW_STEPS.has(p.id) && p.changes.some((c) => c.action !== "noop")),
    blocked: findings.some((f) => f.severity === "error"),
  };
  return o.redactor.redactValue(report);
}
