/**
 * A saved change set (Terraform's saved plan): what a dry-run saw and would change, pinned so a
 * change-approval board can approve it and the window applies exactly that. `run --changes` runs
 * the same read-only inspection again and stops (exit 2, nothing written) on any drift.
 * Pure: building, serializing, reading back (version, checksum) and comparing. No I/O here.
 */
import { createHash } from "node:crypto";
import type { Change } from "../model/preview.js";
import { InputError } from "../shared/errors.js";
import type { Redactor } from "../shared/redact.js";
import type { DryRunReport } from "./model.js";
import { shellWord } from "../shared/shell-word.js";

export const CHANGE_SET_KIND = "octoha-change-set";
export const CHANGE_SET_VERSION = 1;
/** Files and bytes to copy may grow this much by default (task logs keep arriving before the window). */
export const DEFAULT_COPY_GROWTH_PERCENT = 10;

/** What the inspection read of the world; any difference at run time is drift. */
export interface ChangeSetFacts {
  octopusVersion?: string;
  /** Octopus's nodes with their drain flag and task cap (the node set and the drain state). */
  nodes?: { name: string; isDraining: boolean; maxConcurrentTasks: number }[];
  /** Maintenance mode when the dry-run ran; absent when the workflow does not touch it (preseed). */
  maintenance?: boolean;
  /** The server folders Octopus uses now, by key; absent when the workflow does not repath (preseed). */
  folders?: Record<string, string>;
  /** Files and bytes to copy per folder kind and node. */
  copy: { kind: string; node: string; files: number; bytes: number }[];
}

export interface ChangeSetTolerance {
  /** Files and bytes to copy of each folder kind and node may grow by this percentage; shrinking is fine (a preseed ran). */
  copyGrowthPercent: number;
}

export interface ChangeSetBody {
  kind: typeof CHANGE_SET_KIND;
  version: typeof CHANGE_SET_VERSION;
  workflow: string;
  plan: { file: string; sha256: string };
  createdAt: string;
  octohaVersion: string;
  /** Step flags the dry-run previewed (--cancel-tasks, --verify-all): the run must pass the same. */
  flags: Record<string, boolean>;
  facts: ChangeSetFacts;
  tolerance: ChangeSetTolerance;
  /** The dry-run found errors: a run would stop there, so this change set cannot be applied. */
  blocked: boolean;
  /** Every change the run would make, in step order (what the board approves). */
  changes: (Change & { step: string })[];
  /** The whole dry-run report (redacted), for reading. */
  report: DryRunReport;
}

export interface ChangeSet extends ChangeSetBody {
  /** "sha256:<hex>" over the canonical JSON of everything else: a damaged or hand-edited file is refused. */
  checksum: string;
}

/** One thing that differs from what was approved. */
export interface Drift {
  what: string;
  approved: string;
  now: string;
}

export interface BuildChangeSetInput {
  report: DryRunReport;
  plan: { file: string; sha256: string };
  octohaVersion: string;
  flags: Record<string, boolean>;
  tolerance: ChangeSetTolerance;
}

/** Redacted before the checksum: the file never holds a secret, and what is checked is what is stored. */
export function buildChangeSet(i: BuildChangeSetInput, redactor?: Redactor): ChangeSet {
  const built: ChangeSetBody = {
    kind: CHANGE_SET_KIND,
    version: CHANGE_SET_VERSION,
    workflow: i.report.workflow,
    plan: i.plan,
    createdAt: i.report.generatedAt,
    octohaVersion: i.octohaVersion,
    flags: i.flags,
    facts: factsOf(i.report),
    tolerance: i.tolerance,
    blocked: i.report.blocked,
    changes: i.report.steps.flatMap((s) => s.changes.map((c) => ({ step: s.id, ...c }))),
    report: i.report,
  };
  const body = redactor ? redactor.redactValue(built) : built;
  return { ...body, checksum: checksumOf(body) };
}

/** The facts a report holds: only what the workflow's steps inspected. */
export function factsOf(report: DryRunReport): ChangeSetFacts {
  const step = (id: string) => report.steps.find((s) => s.id === id);
  const maintenance = step("maintenance-on")?.changes[0]?.before;
  const repath = step("repath");
  const folders =
    repath && !repath.error
      ? Object.fromEntries(repath.changes.map((c) => [c.target.replace(/^server folder /, ""), String(c.before ?? "(not set)")]))
      : undefined;
  return {
    ...(report.octopusVersion !== undefined ? { octopusVersion: report.octopusVersion } : {}),
    ...(report.nodes ? { nodes: [...report.nodes].sort((a, b) => a.name.localeCompare(b.name)) } : {}),
    ...(typeof maintenance === "boolean" ? { maintenance } : {}),
    ...(folders ? { folders } : {}),
    copy: report.copy.map((c) => ({ kind: c.kind, node: c.node, files: c.files, bytes: c.bytes })),
  };
}

export function serializeChangeSet(c: ChangeSet): string {
  return `${JSON.stringify(c, null, 2)}\n`;
}

/** JSON with keys sorted at every level: a file re-indented or re-ordered by a tool keeps its checksum. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

function checksumOf(body: ChangeSetBody): string {
  return `sha256:${createHash("sha256").update(canonical(body)).digest("hex")}`;
}

const refuse = (file: string, summary: string, hint: string, code = "CHANGE_SET_INVALID") =>
  new InputError(summary, { code, path: file, hint });
const REDO = "Run the dry-run again with --out to write a new change set, have it approved, and run with that one.";

/**
 * Reads a change set file's text: the right kind, a version we know, an intact checksum. `dryRun` is the
 * command that writes one for this plan and workflow (dryRunFor), shown when the file is not a change set.
 */
export function parseChangeSet(text: string, file: string, dryRun: string): ChangeSet {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw refuse(file, `Change set ${file} is not valid JSON (${(error as Error).message})`, `The file is damaged. ${REDO}`);
  }
  const doc = (raw && typeof raw === "object" ? raw : {}) as Partial<ChangeSet>;
  if (doc.kind !== CHANGE_SET_KIND) {
    throw refuse(
      file,
      `${file} is not an octoha change set (kind ${JSON.stringify(doc.kind ?? null)})`,
      `Pass the file written by \`${dryRun}\`. ${REDO}`,
    );
  }
  if (doc.version !== CHANGE_SET_VERSION) {
    throw refuse(
      file,
      `Change set ${file} has format version ${JSON.stringify(doc.version ?? null)}; this octoha reads version ${CHANGE_SET_VERSION}`,
      `It was written by another octoha version. ${REDO}`,
      "CHANGE_SET_VERSION",
    );
  }
  const { checksum, ...body } = doc as ChangeSet;
  if (typeof checksum !== "string" || checksum !== checksumOf(body)) {
    throw refuse(
      file,
      `Change set ${file} was changed after it was written (its checksum does not match its content)`,
      `A change set is approved as written and cannot be edited. ${REDO}`,
      "CHANGE_SET_TAMPERED",
    );
  }
  return doc as ChangeSet;
}

/** The run must be the one approved: same workflow, and a change set a run could apply (`planFile`: for the command shown). */
export function requireApplicable(c: ChangeSet, file: string, workflow: string, planFile: string): void {
  if (c.workflow !== workflow) {
    throw refuse(
      file,
      `Change set ${file} was approved for the ${c.workflow} workflow, not ${workflow}`,
      `Run the verb that matches it (${verbFor(c.workflow, planFile, file)}), or ${REDO.charAt(0).toLowerCase()}${REDO.slice(1)}`,
      "CHANGE_SET_WORKFLOW",
    );
  }
  if (c.blocked) {
    const first = c.report.findings.find((f) => f.severity === "error")?.summary ?? "";
    throw refuse(
      file,
      `Change set ${file} comes from a dry-run that found errors (first: ${first}); a run would stop there`,
      `Fix the errors, then ${REDO.charAt(0).toLowerCase()}${REDO.slice(1)}`,
      "CHANGE_SET_BLOCKED",
    );
  }
}

/** The command that applies a change set of this workflow: the plan file and change set as given, quoted for the shell. */
export function verbFor(workflow: string, planFile: string, changes: string): string {
  const verb = workflow === "repair" ? "octoha repair" : workflow === "preseed" ? "octoha run --phase preseed" : "octoha run";
  return `${verb} ${shellWord(planFile)} --changes ${shellWord(changes)}`;
}

/** The dry-run that writes a change set of this workflow for this plan, quoted for the shell. */
export function dryRunFor(workflow: string, planFile: string, out: string): string {
  return `octoha dry-run ${shellWord(planFile)}${workflow === "migrate" ? "" : ` --workflow ${workflow}`} --out ${shellWord(out)}`;
}

const show = (v: unknown): string => (v === undefined ? "(none)" : typeof v === "string" ? v : JSON.stringify(v));

/** Everything that differs between the approved change set and one built from a fresh inspection. */
export function driftOf(approved: ChangeSet, now: ChangeSetBody): Drift[] {
  const out: Drift[] = [];
  const differ = (what: string, a: unknown, b: unknown) => {
    if (show(a) !== show(b)) out.push({ what, approved: show(a), now: show(b) });
  };
  differ("plan file (sha256)", approved.plan.sha256, now.plan.sha256);
  differ("octoha version", approved.octohaVersion, now.octohaVersion);
  for (const flag of new Set([...Object.keys(approved.flags), ...Object.keys(now.flags)]))
    differ(`flag --${kebab(flag)}`, approved.flags[flag] ?? false, now.flags[flag] ?? false);
  const a = approved.facts;
  const b = now.facts;
  differ("Octopus version", a.octopusVersion, b.octopusVersion);
  out.push(...nodeDrift(a.nodes ?? [], b.nodes ?? []));
  // A repair approved with nothing to repair read neither maintenance mode nor the folders (its
  // steps changed nothing): that it now needs repairing is the drift, said once, not "(none) → off".
  const then = assessment(approved.report);
  const nowAssessed = assessment(now.report);
  const unread = then?.code === "NOTHING_TO_REPAIR";
  if (unread && nowAssessed?.code === "REPAIR_NEEDED")
    out.push({ what: "repair needed", approved: then.summary, now: nowAssessed.summary });
  if (!unread || a.maintenance !== undefined) differ("maintenance mode", onOff(a.maintenance), onOff(b.maintenance));
  for (const key of new Set([...Object.keys(a.folders ?? {}), ...Object.keys(b.folders ?? {})]))
    if (!unread || a.folders?.[key] !== undefined) differ(`server folder ${key}`, a.folders?.[key], b.folders?.[key]);
  out.push(...copyDrift(a.copy, b.copy, approved.tolerance.copyGrowthPercent));
  for (const f of now.report.findings.filter((x) => x.severity === "error"))
    out.push({ what: `error ${f.code}`, approved: "(none)", now: f.summary });
  return out;
}

/** What a repair's dry-run found about whether it needs the outage (assess-repair's finding), if it has one. */
const assessment = (report: DryRunReport) => report.steps.find((s) => s.id === "assess-repair")?.findings[0];

const onOff = (v: boolean | undefined) => (v === undefined ? undefined : v ? "on" : "off");
const kebab = (s: string) => s.replace(/[A-Z]/g, (m) => `-${m.toLowerCase()}`);

function nodeDrift(approved: NonNullable<ChangeSetFacts["nodes"]>, now: NonNullable<ChangeSetFacts["nodes"]>): Drift[] {
  const describe = (n: (typeof now)[number] | undefined) =>
    n ? `present, ${n.isDraining ? "draining" : "not draining"}, task cap ${n.maxConcurrentTasks}` : "absent";
  const out: Drift[] = [];
  const key = (n: { name: string }) => n.name.toLowerCase();
  for (const name of new Set([...approved.map(key), ...now.map(key)])) {
    const a = approved.find((n) => key(n) === name);
    const b = now.find((n) => key(n) === name);
    if (describe(a) !== describe(b)) out.push({ what: `node ${(a ?? b)!.name}`, approved: describe(a), now: describe(b) });
  }
  return out;
}

/** Growth beyond the tolerance is drift; shrinking is not (files already at the target, e.g. after a preseed). */
function copyDrift(approved: ChangeSetFacts["copy"], now: ChangeSetFacts["copy"], percent: number): Drift[] {
  const out: Drift[] = [];
  const key = (c: { kind: string; node: string }) => `${c.kind} from ${c.node}`;
  const before = new Map(approved.map((c) => [key(c), c]));
  for (const c of now) {
    const a = before.get(key(c)) ?? { files: 0, bytes: 0 };
    for (const unit of ["files", "bytes"] as const) {
      const limit = Math.floor(a[unit] * (1 + percent / 100));
      if (c[unit] <= limit) continue;
      const growth = a[unit] === 0 ? "new" : `+${Math.round(((c[unit] - a[unit]) / a[unit]) * 100)}%`;
      out.push({
        what: `${key(c)} (${unit} to copy)`,
        approved: String(a[unit]),
        now: `${c[unit]} (${growth}; tolerance +${percent}%, at most ${limit})`,
      });
    }
  }
  return out;
}

/** The diff an operator reads when a run refuses a stale change set. */
export function renderDrift(drift: readonly Drift[]): string[] {
  return drift.map((d) => `${d.what}: ${d.approved} → ${d.now}`);
}
