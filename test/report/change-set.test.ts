import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { checkApprovedChanges } from "../../src/operations/approved-changes.js";
import {
  buildChangeSet,
  driftOf,
  dryRunFor,
  parseChangeSet,
  requireApplicable,
  serializeChangeSet,
  type ChangeSet,
} from "../../src/report/change-set.js";
import type { DryRunReport } from "../../src/report/model.js";
import { OctohaError } from "../../src/shared/errors.js";
import { Redactor } from "../../src/shared/redact.js";

const DRY = dryRunFor("migrate", "plan.json", "changes.json");

function report(copy: { kind: string; node: string; files: number; bytes: number }[], extra: Partial<DryRunReport> = {}): DryRunReport {
  return {
    format: "octoha-dry-run",
    formatVersion: 1,
    generatedAt: "2026-01-01T00:00:00.000Z",
    workflow: "migrate",
    planFile: "/plans/plan.json",
    octopusVersion: "2024.1.1",
    nodes: [{ name: "OCTO1", isDraining: false, maxConcurrentTasks: 5 }],
    kinds: ["taskLogs"],
    findings: [],
    steps: [
      {
        id: "maintenance-on",
        title: "m",
        requiresApproval: true,
        changes: [{ action: "update", target: "maintenance mode", before: false, after: true, summary: "on" }],
        findings: [],
      },
      {
        id: "repath",
        title: "r",
        requiresApproval: true,
        changes: [
          { action: "update", target: "server folder taskLogs", before: "C:\\Octopus\\TaskLogs", after: "\\\\fs\\TaskLogs", summary: "x" },
        ],
        findings: [],
      },
    ],
    collisions: [],
    copy: copy.map((c) => ({ ...c, filesAlreadyThere: 0 })),
    freeSpace: [],
    estimate: { drainWaitSeconds: 0, logHandleWaitSeconds: 0, basis: "" },
    wouldChange: true,
    blocked: false,
    ...extra,
  };
}

const build = (r: DryRunReport, percent = 10, redactor?: Redactor): ChangeSet =>
  buildChangeSet(
    {
      report: r,
      plan: { file: r.planFile, sha256: "a".repeat(64) },
      octohaVersion: "0.1.0",
      flags: { cancelTasks: false },
      tolerance: { copyGrowthPercent: percent },
    },
    redactor,
  );

describe("change set drift", () => {
  const approved = build(report([{ kind: "taskLogs", node: "OCTO1", files: 100, bytes: 1000 }]));

  it("files to copy that shrank (a preseed ran) or grew within the tolerance are not drift", () => {
    expect(driftOf(approved, build(report([{ kind: "taskLogs", node: "OCTO1", files: 3, bytes: 30 }])))).toEqual([]);
    expect(driftOf(approved, build(report([{ kind: "taskLogs", node: "OCTO1", files: 110, bytes: 1100 }])))).toEqual([]);
  });

  it("growth beyond the tolerance, and a folder and node with files that had none, are drift naming both counts", () => {
    const now = build(
      report([
        { kind: "taskLogs", node: "OCTO1", files: 111, bytes: 1000 },
        { kind: "artifacts", node: "OCTO1", files: 1, bytes: 5 },
      ]),
    );
    expect(driftOf(approved, now)).toEqual([
      { what: "taskLogs from OCTO1 (files to copy)", approved: "100", now: "111 (+11%; tolerance +10%, at most 110)" },
      { what: "artifacts from OCTO1 (files to copy)", approved: "0", now: "1 (new; tolerance +10%, at most 0)" },
      { what: "artifacts from OCTO1 (bytes to copy)", approved: "0", now: "5 (new; tolerance +10%, at most 0)" },
    ]);
  });

  it("a different flag, a new error finding and a changed task cap are drift", () => {
    const r = report([{ kind: "taskLogs", node: "OCTO1", files: 100, bytes: 1000 }], {
      nodes: [{ name: "OCTO1", isDraining: false, maxConcurrentTasks: 0 }],
    });
    r.findings = [{ step: "preflight", severity: "error", code: "TARGET_UNUSABLE", summary: "share gone" }];
    const now = buildChangeSet({
      report: r,
      plan: approved.plan,
      octohaVersion: "0.1.0",
      flags: { cancelTasks: true },
      tolerance: approved.tolerance,
    });
    expect(driftOf(approved, now).map((d) => d.what)).toEqual(["flag --cancel-tasks", "node OCTO1", "error TARGET_UNUSABLE"]);
  });
});

describe("change set drift of a repair approved with nothing to repair", () => {
  const assessed = (code: "NOTHING_TO_REPAIR" | "REPAIR_NEEDED", summary: string) => ({
    id: "assess-repair",
    title: "a",
    requiresApproval: false,
    changes: [],
    findings: [{ severity: "info" as const, code, summary }],
  });
  const skipped = (id: string) => ({
    id,
    title: id,
    requiresApproval: true,
    changes: [],
    findings: [{ severity: "info" as const, code: "NOTHING_TO_REPAIR", summary: "Changes nothing: …" }],
  });

  it("says once that a repair is needed now, not '(none) → off' for what it never read", () => {
    const then = report([], {
      workflow: "repair",
      steps: [assessed("NOTHING_TO_REPAIR", "Nothing to repair: every folder is shared"), skipped("maintenance-on"), skipped("repath")],
    });
    const now = report([{ kind: "taskLogs", node: "OCTO1", files: 3, bytes: 30 }], {
      workflow: "repair",
      steps: [assessed("REPAIR_NEEDED", "Repair needed: taskLogs is not shared"), ...report([]).steps],
    });
    const drift = driftOf(build(then), build(now));
    expect(drift).toContainEqual({
      what: "repair needed",
      approved: "Nothing to repair: every folder is shared",
      now: "Repair needed: taskLogs is not shared",
    });
    expect(drift.filter((d) => d.approved === "(none)")).toEqual([]);
    expect(drift.map((d) => d.what)).toEqual([
      "repair needed",
      "taskLogs from OCTO1 (files to copy)",
      "taskLogs from OCTO1 (bytes to copy)",
    ]);
  });
});

describe("change set file", () => {
  it("reads back what was written, also re-indented with its keys re-ordered", () => {
    const c = build(report([{ kind: "taskLogs", node: "OCTO1", files: 1, bytes: 1 }]));
    expect(parseChangeSet(serializeChangeSet(c), "c.json", DRY)).toEqual(c);
    const reordered = Object.fromEntries(Object.entries(c).reverse());
    expect(parseChangeSet(JSON.stringify(reordered, null, 4), "c.json", DRY)).toEqual(c);
  });

  it("an edited value, an unknown version or another kind of file is refused as bad input (exit 2)", () => {
    const c = build(report([{ kind: "taskLogs", node: "OCTO1", files: 1, bytes: 1 }]));
    const refused = (text: string) => {
      try {
        parseChangeSet(text, "c.json", DRY);
      } catch (error) {
        return error instanceof OctohaError ? `${error.exitCode} ${error.code}` : String(error);
      }
      return "accepted";
    };
    expect(refused(JSON.stringify({ ...c, facts: { ...c.facts, maintenance: true } }))).toBe("2 CHANGE_SET_TAMPERED");
    expect(refused(JSON.stringify({ ...c, version: 3 }))).toBe("2 CHANGE_SET_VERSION");
    expect(refused(JSON.stringify({ format: "octoha-dry-run" }))).toBe("2 CHANGE_SET_INVALID");
    expect(refused("{")).toBe("2 CHANGE_SET_INVALID");
  });

  it("a change set from a blocked dry-run is refused (Terraform: cannot apply an incomplete plan), naming the first error", () => {
    const r = report([], {
      blocked: true,
      findings: [{ step: "preflight", severity: "error", code: "OCTOPUS_AUTH", summary: "HTTP 401" }],
    });
    expect(() => requireApplicable(build(r), "c.json", "migrate", "plan.json")).toThrow(
      /found errors \(first: HTTP 401\); a run would stop there/,
    );
    expect(() => requireApplicable(build(report([])), "c.json", "repair", "plan.json")).toThrow(
      /approved for the migrate workflow, not repair/,
    );
  });

  it("a refused change set's hint names the plan file given, quoted for the shell, never a literal PLAN", async () => {
    const t = mkdtempSync(path.join(tmpdir(), "octoha-cs-"));
    try {
      const planFile = path.join(t, "my plans", "prod plan.json");
      const hintOf = async (file: string, workflow: "migrate" | "repair") =>
        (
          (await checkApprovedChanges({ file, planFile, workflow, flags: {}, redactor: new Redactor() }).catch((e: unknown) => e)) as {
            code: string;
            hint: string;
          }
        ).hint;
      const quoted = JSON.stringify(planFile);
      const missing = path.join(t, "gone.json");
      expect(await hintOf(missing, "repair")).toBe(
        `Pass the file \`octoha dry-run ${quoted} --workflow repair --out changes.json\` wrote.`,
      );
      const notOne = path.join(t, "report.json");
      writeFileSync(notOne, JSON.stringify({ format: "octoha-dry-run" }));
      expect(await hintOf(notOne, "migrate")).toContain(`Pass the file written by \`octoha dry-run ${quoted} --out changes.json\`.`);
      const other = path.join(t, "approved changes.json");
      writeFileSync(other, serializeChangeSet(build(report([]))));
      expect(await hintOf(other, "repair")).toContain(
        `Run the verb that matches it (octoha run ${quoted} --changes ${JSON.stringify(other)})`,
      );
      for (const f of [missing, notOne, other]) expect(await hintOf(f, f === notOne ? "migrate" : "repair")).not.toContain("PLAN");
    } finally {
      rmSync(t, { recursive: true, force: true });
    }
  });

  it("secrets the redactor knows are gone before the checksum, so the file still reads back", () => {
    const redactor = new Redactor();
    redactor.add("S3cret-Passw0rd");
    const r = report([], { findings: [{ step: "preflight", severity: "info", code: "X", summary: "Server=db;Password=S3cret-Passw0rd" }] });
    const text = serializeChangeSet(build(r, 10, redactor));
    expect(text).not.toContain("S3cret-Passw0rd");
    expect(parseChangeSet(text, "c.json", DRY).report.findings[0]?.summary).toBe("Server=db;Password=***");
  });
});
