import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { collectDryRun } from "../../src/operations/dry-run.js";
import { openFullList } from "../../src/operations/full-list.js";
import { renderDryRun } from "../../src/report/render.js";
import { buildRunReport, renderRunReportMarkdown } from "../../src/report/run-report.js";
import { Redactor } from "../../src/shared/redact.js";
import { buildSteps } from "../../src/steps/workflows.js";
import type { CopyEngine } from "../../src/steps/deps.js";
import type { Collision, CopyResult, FullListSink } from "../../src/model/copy-results.js";
import type { CopyOptions, CopySummary } from "../../src/storage/types.js";
import { clusterFixture, SQL_SECRET, type ClusterFixture } from "../steps/fixture.js";

const COLLISIONS = 100_000;
const MB = 1 << 20;

let fx: ClusterFixture | undefined;
afterEach(async () => {
  await fx?.cleanup();
  fx = undefined;
});

/** OCTO2's task logs collide 100 000 times (60 000 different bytes, 40 000 case-only), as the real engine reports it. */
function collidingEngine(base: CopyEngine): CopyEngine {
  return {
    ...base,
    async copyTree(o: CopyOptions): Promise<CopySummary> {
      const s = await base.copyTree(o);
      if (!o.dryRun || o.sourceNode !== "OCTO2" || !o.source.endsWith("TaskLogs")) return s;
      const collisions: Collision[] = [];
      for (let i = 0; i < COLLISIONS; i++) {
        const kind = i < 60_000 ? "different-bytes" : "case-only";
        const relPath = `servertasks-${1_000_000 + i}_ABCDEFGHIJ.txt`;
        const c: Collision = { kind, relPath, targetRelPath: relPath, sourceNode: "OCTO2", winner: "target", reason: "other bytes" };
        o.onCollision?.(c);
        if (collisions.length < 1000) collisions.push(c);
      }
      return {
        ...s,
        collisions,
        collisionsOmitted: COLLISIONS - 1000,
        collisionsByKind: { "different-bytes": 60_000, "case-only": 40_000 },
      };
    },
  };
}

function stepsOf(f: ClusterFixture, fullList?: FullListSink) {
  return buildSteps("migrate", {
    plan: f.plan,
    stateDir: f.stateDir,
    ports: f.cluster.ports,
    engine: collidingEngine(f.engine),
    flags: { cancelTasks: false, verifyAll: false, removeCopies: false },
    version: "2024.1.1000",
    facts: f.facts,
    clock: f.clock,
    env: { OCTOPUS_API_KEY: "API-ABCDEFGHIJKLMNOPQRSTUV", OCTOHA_TEST_SQL: SQL_SECRET },
    pollIntervalMs: 1000,
    ...(fullList ? { fullList } : {}),
  });
}

describe("a dry-run report of a plan with 100 000 collisions", () => {
  it("renders Markdown, HTML and JSON under 1 MB each, with every collision counted", async () => {
    fx = await clusterFixture();
    const redactor = new Redactor();
    const report = await collectDryRun({ workflow: "migrate", planFile: "plan.json", steps: stepsOf(fx), redactor });
    const t = report.collisionTotals!;
    // The fixture's own OCTO2 task-log collisions come on top of the 100 000.
    const own = t.total - COLLISIONS;
    expect(own).toBeGreaterThanOrEqual(0);
    expect(own).toBeLessThan(10);
    expect(t.perJob).toContainEqual({ folder: "taskLogs", node: "OCTO2", count: COLLISIONS + own });
    expect(t.byKind["case-only"]).toBe(40_000);
    expect(t.byKind["different-bytes"]).toBe(60_000 + own);
    expect(report.collisions.length).toBe(200);
    expect(t.listed).toBe(200);
    // A step's findings name the first collisions and sum up the rest in one.
    expect(report.findings.filter((f) => f.code === "COLLISION").length).toBeLessThanOrEqual(2 * 21);
    expect(report.findings.some((f) => f.summary.includes(`${COLLISIONS + own - 20} more collision(s)`))).toBe(true);

    const md = renderDryRun(report, "md", redactor);
    const html = renderDryRun(report, "html", redactor);
    const json = renderDryRun(report, "json", redactor);
    for (const text of [md, html, json]) expect(Buffer.byteLength(text)).toBeLessThan(MB);
    expect(md).toContain(`${t.total} collision(s), by kind: ${60_000 + own} different-bytes, 40000 case-only`);
    expect(md).toContain(`| taskLogs | OCTO2 | ${COLLISIONS + own} |`);
    expect(md).toContain(`The first 200 of ${t.total}`);
    expect(html).toContain(`<td>taskLogs</td><td>OCTO2</td><td>${COLLISIONS + own}</td>`);
    expect(html).toContain(`The first 200 of ${t.total}`);
    expect(JSON.parse(json).collisionTotals.total).toBe(t.total);
  });

  it("writes every collision once to the full list (the preseed's duplicates left out)", async () => {
    fx = await clusterFixture();
    const redactor = new Redactor();
    const file = path.join(fx.root, "full.jsonl");
    let list: ReturnType<typeof openFullList> | undefined;
    const steps = stepsOf(fx, (r) => list!.sink(r));
    list = openFullList(
      file,
      steps.map((s) => s.id),
      redactor,
    );
    const report = await collectDryRun({ workflow: "migrate", planFile: "plan.json", steps, redactor });
    list.close();
    const lines = readFileSync(file, "utf8")
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as { list: string; step: string; relPath: string });
    const collisions = lines.filter((l) => l.list === "collision");
    expect(collisions.length).toBe(report.collisionTotals!.total);
    expect(new Set(collisions.map((c) => c.step))).toEqual(
      new Set(["copy-task-logs", "copy-artifacts", "copy-packages"].filter((id) => collisions.some((c) => c.step === id))),
    );
    expect(collisions.some((c) => c.step === "preseed")).toBe(false);
    expect(new Set(collisions.map((c) => c.relPath)).size).toBe(collisions.length);
  });

  it("a run report counts them too and lists the first ones", () => {
    const collisions: Collision[] = Array.from({ length: 1000 }, (_, i) => ({
      kind: "different-bytes",
      relPath: `servertasks-${i}_A.txt`,
      targetRelPath: `servertasks-${i}_A.txt`,
      winner: "target",
      quarantinedAt: `${os.tmpdir()}/q/servertasks-${i}_A.txt`,
      reason: "other bytes",
    }));
    const job = { kind: "taskLogs" as const, node: "OCTO2", filesCopied: 0, bytesCopied: 0, filesSkipped: 0, bytesSkipped: 0 };
    const result: CopyResult = {
      jobs: [
        {
          ...job,
          collisions,
          collisionsOmitted: 99_000,
          collisionsByKind: { "different-bytes": COLLISIONS },
          nameProblems: [],
          errors: [],
        },
      ],
    };
    const nowhere = Array.from({ length: 1000 }, (_, i) => `ServerTasks-${i}`);
    const verify = {
      tasksChecked: 5000,
      packagesChecked: 0,
      logsNotCopied: [],
      logsNowhere: nowhere,
      packagesMissing: [],
      logsNowhereTotal: 4000,
    };
    const r = buildRunReport({
      workflow: "migrate",
      runId: "r1",
      results: new Map<string, unknown>([
        ["copy-task-logs", result],
        ["verify-copy", verify],
      ]),
    });
    expect(r.collisionTotals.total).toBe(COLLISIONS);
    const md = renderRunReportMarkdown(r, new Redactor());
    expect(Buffer.byteLength(md)).toBeLessThan(MB);
    expect(md).toContain(`${COLLISIONS} collision(s), by kind: 100000 different-bytes; the first 200:`);
    expect(md).toContain("4000 completed task(s) have no log on any node or on shared storage");
    expect(md).toContain("… and 3950 more");
  });

  it("a run report counts every name Windows cannot hold and lists the first 200", () => {
    const nameProblems = Array.from({ length: 1000 }, (_, i) => ({
      relPath: `run-${i}/a|b.txt`,
      problem: "invalid-windows-name" as const,
      detail: "'a|b.txt' contains '|', which Windows does not allow in a name",
    }));
    const job = { kind: "artifacts" as const, node: "OCTO1", filesCopied: 1000, bytesCopied: 0, filesSkipped: 0, bytesSkipped: 0 };
    const result: CopyResult = { jobs: [{ ...job, collisions: [], nameProblems, nameProblemsOmitted: 99_000, errors: [] }] };
    const r = buildRunReport({ workflow: "repair", runId: "r1", results: new Map<string, unknown>([["copy-artifacts", result]]) });
    expect(r.nameProblemTotal).toBe(100_000);
    expect(r.nameProblems).toHaveLength(200);
    const md = renderRunReportMarkdown(r, new Redactor());
    expect(Buffer.byteLength(md)).toBeLessThan(MB);
    expect(md).toContain(
      "100000 file(s) copied to the share (or already there) have a name or path Octopus on Windows cannot open; the first 200:",
    );
    expect(md).toContain("- artifacts/run-199/a|b.txt (from OCTO1): 'a|b.txt' contains '|'");
    expect(md).not.toContain("run-200/");
  });
});
