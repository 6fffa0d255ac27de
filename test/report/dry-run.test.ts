import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { collectDryRun } from "../../src/operations/dry-run.js";
import { renderDryRun } from "../../src/report/render.js";
import { buildRunReport, renderRunReportMarkdown } from "../../src/report/run-report.js";
import { Redactor } from "../../src/shared/redact.js";
import { clusterFixture, SQL_SECRET, type ClusterFixture } from "../steps/fixture.js";
import { listTree, runAll, writeFiles } from "../steps/helpers.js";

let fx: ClusterFixture | undefined;
afterEach(async () => {
  await fx?.cleanup();
  fx = undefined;
});

async function dryRunOf(f: ClusterFixture, workflow: "migrate" | "repair") {
  const redactor = new Redactor();
  redactor.add(SQL_SECRET);
  redactor.add("Sup3rS3cret!");
  // An adapter that echoes its connection string into what it reports must still not leak it.
  f.cluster.ports.inventory.connectionInfo = async () => ({ encrypted: false, server: `sql01;Password=Sup3rS3cret!`, database: "Octopus" });
  const report = await collectDryRun({
    workflow,
    planFile: path.join(f.root, "plan.json"),
    steps: f.steps(workflow),
    redactor,
    now: () => Date.parse("2026-11-26T02:00:00Z"),
  });
  return { report, redactor };
}

describe("dry-run", () => {
  it("writes nothing anywhere and changes nothing in Octopus", async () => {
    fx = await clusterFixture();
    const before = await listTree(fx.root);
    const { report, redactor } = await dryRunOf(fx, "repair");
    for (const format of ["md", "html", "json"] as const) renderDryRun(report, format, redactor);
    expect(await listTree(fx.root)).toEqual(before);
    expect(fx.cluster.writes()).toEqual([]);
    expect(fx.engine.runs.every((r) => r.dryRun === true)).toBe(true);
  });

  it("reports what the repair would do: findings with fixes, the exact path command, bytes per node, collisions, free space", async () => {
    fx = await clusterFixture();
    const { report } = await dryRunOf(fx, "repair");
    expect(report.format).toBe("octoha-dry-run");
    expect(report.formatVersion).toBe(1);
    expect(report.wouldChange).toBe(true);
    expect(report.octopusVersion).toBe("2024.1.1000");
    expect(report.pathCommand).toBe(
      'Octopus.Server.exe path --instance OctopusServer --taskLogs "\\\\fs01\\Octopus Shared\\TaskLogs" --artifacts "\\\\fs01\\Octopus Shared\\Artifacts" --nugetRepository "\\\\fs01\\Octopus Shared\\Packages"',
    );
    expect(report.findings.find((f) => f.code === "SQL_NOT_ENCRYPTED")?.fix).toContain("Encrypt=True");
    expect(report.copy).toContainEqual({
      kind: "taskLogs",
      node: "OCTO2",
      files: 3,
      bytes: "log of task 2 from OCTO2".length + "stale copy on OCTO2".length + "OCTO2 scheduler".length,
      filesAlreadyThere: 0,
    });
    // Before any copy, the two nodes' files do not collide at the (empty) target yet; the preview counts both.
    expect(report.copy.filter((c) => c.kind === "taskLogs").reduce((a, c) => a + c.files, 0)).toBe(6);
    expect(report.freeSpace.map((f) => f.kind).sort()).toEqual(["artifacts", "packages", "taskLogs"]);
    expect(report.freeSpace.every((f) => typeof f.freeBytes === "number")).toBe(true);
    expect(report.steps.find((s) => s.id === "undrain")!.changes.length).toBe(2);
    expect(report.estimate.logHandleWaitSeconds).toBe(60);
  });

  it("lists collisions already present at the target, and a package indexed on no node as an error", async () => {
    fx = await clusterFixture();
    await runAll(fx.steps("preseed"), fx.clock);
    fx.cluster.state.packages.push({ id: "packages-Ghost.9.9.9", packageId: "Ghost", version: "9.9.9", spaceId: "Spaces-1" });
    const { report } = await dryRunOf(fx, "repair");
    expect(report.collisions.map((c) => `${c.folder}/${c.relPath}:${c.node}:${c.winner}`).sort()).toEqual([
      "packages/Spaces-1/feeds-builtin/Acme/Acme.1.4.0.zip:OCTO2:target",
      "taskLogs/scheduledtasks_processsubscriptions.txt:OCTO2:target",
      "taskLogs/servertasks-3_CCCCCCCCCC.txt:OCTO2:target",
    ]);
    expect(report.blocked).toBe(true);
    expect(report.findings[0]).toMatchObject({ severity: "error", code: "PACKAGES_ON_NO_NODE" });
    expect(report.findings[0]!.summary).toContain("Ghost 9.9.9");
  });

  it("renders Markdown, self-contained HTML with charts, and JSON, none of them showing a secret", async () => {
    fx = await clusterFixture();
    const { report, redactor } = await dryRunOf(fx, "migrate");
    const md = renderDryRun(report, "md", redactor);
    const html = renderDryRun(report, "html", redactor);
    const json = renderDryRun(report, "json", redactor);
    for (const text of [md, html, json]) {
      expect(text).not.toContain("Sup3rS3cret");
      expect(text).toContain("***");
    }
    expect(md).toContain("## Command repath runs");
    expect(md).toContain("--nugetRepository");
    expect(md).toMatch(/\| taskLogs \| OCTO1 \| 3 \|/);
    expect(html).toContain("<svg");
    expect(html).toContain("Bytes to copy per node and folder");
    expect(html).toContain("Estimated window");
    expect(html).not.toMatch(/<script|<link|\ssrc=|url\(/i);
    expect(JSON.parse(json)).toMatchObject({ format: "octoha-dry-run", formatVersion: 1, workflow: "migrate" });
  });

  it("says nothing would change once a repair has finished", async () => {
    fx = await clusterFixture();
    await runAll(fx.steps("repair"), fx.clock);
    const { report } = await dryRunOf(fx, "repair");
    const changing = report.steps.flatMap((s) => s.changes.filter((c) => c.action !== "noop").map((c) => `${s.id}: ${c.summary}`));
    // Drain, maintenance, stop and start always act in a window (and are undone by it); folders and files are done.
    expect(changing.filter((c) => c.startsWith("repath") || c.startsWith("copy-") || c.startsWith("provision"))).toEqual([]);
    expect(report.wouldChange).toBe(false);
  });
});

describe("dry-run window estimate", () => {
  it("uses the engine's measured rate for the copy and the drain timeout as the upper bound when tasks run now", async () => {
    fx = await clusterFixture({ planOptions: { drainTimeoutMinutes: 20 } });
    fx.engine.measureRate = async () => 10;
    fx.cluster.state.tasks.push({ id: "ServerTasks-7", name: "Deploy", state: "Executing", serverNode: "OCTO1", completedTime: null });
    const { report } = await dryRunOf(fx, "migrate");
    const bytes = report.copy.reduce((a, c) => a + c.bytes, 0);
    expect(report.estimate).toMatchObject({
      rateBytesPerSecond: 10,
      copySeconds: bytes / 10,
      drainWaitSeconds: 1200,
      logHandleWaitSeconds: 60,
      totalSeconds: bytes / 10 + 1260,
    });
    expect(report.findings.find((f) => f.code === "TASKS_RUNNING")?.detail).toContain("ServerTasks-7 (Deploy, Executing) on OCTO1");
  });

  it("reports a collision seen by both the preseed and the window copy once", async () => {
    fx = await clusterFixture();
    await runAll(fx.steps("preseed"), fx.clock);
    const { report } = await dryRunOf(fx, "migrate");
    expect(report.findings.filter((f) => f.code === "COLLISION" && f.path === "servertasks-3_CCCCCCCCCC.txt")).toHaveLength(1);
    expect(report.collisions.filter((c) => c.relPath === "servertasks-3_CCCCCCCCCC.txt")).toHaveLength(1);
  });
});

describe("run report", () => {
  it("lists what was copied, how collisions were resolved, and tasks whose logs exist nowhere", async () => {
    fx = await clusterFixture();
    fx.cluster.state.tasks.push({
      id: "ServerTasks-9",
      name: "Deploy",
      state: "Success",
      serverNode: "OCTO2",
      completedTime: "2026-01-04T00:00:00Z",
    });
    const { results } = await runAll(fx.steps("repair"), fx.clock);
    const report = buildRunReport({ workflow: "repair", runId: "r1", results });
    expect(report.logsNowhere).toEqual(["ServerTasks-9"]);
    expect(report.copied.find((c) => c.kind === "taskLogs" && c.node === "OCTO1")?.files).toBe(3);
    expect(report.collisions.find((c) => c.relPath === "servertasks-3_CCCCCCCCCC.txt")).toMatchObject({ node: "OCTO2", winner: "target" });
    const md = renderRunReportMarkdown(report, new Redactor());
    expect(md).toContain("ServerTasks-9");
    expect(md).toContain(".octoha/conflicts/OCTO2/servertasks-3_CCCCCCCCCC.txt");
  });
});

describe("Markdown reports show file names literally", () => {
  /** Each name on both nodes with different bytes: a collision, so it is in every table and list. */
  const NAMES = [
    "<script>alert(1)<script>.txt",
    "a`b`c.txt",
    "line1\nline2.txt",
    "tab\there\u001b[31m.txt",
    "x&amp;y.txt",
    "pipe|[link](e).txt",
    "back\\<slash.txt",
  ];
  /** As the Markdown must spell them (GitHub-flavoured Markdown renders each back to the name). */
  const SHOWN = [
    "\\<script\\>alert(1)\\<script\\>.txt",
    "a\\`b\\`c.txt",
    "line1\\u000aline2.txt",
    "tab\\u0009here\\u001b[31m.txt",
    "x\\&amp;y.txt",
    "pipe|[link\\](e).txt",
    "back\\\\\\<slash.txt",
  ];

  async function clusterWithOddNames(): Promise<ClusterFixture> {
    const f = await clusterFixture();
    for (const node of ["OCTO1", "OCTO2"])
      await writeFiles(path.join(f.root, node), Object.fromEntries(NAMES.map((n) => [`TaskLogs/${n}`, `${n} on ${node}`])));
    return f;
  }

  /** How often each escaped name is in a table cell (its pipe escaped too) and in the other lines. */
  function expectEscaped(md: string, times: { cells: number; text: number }): void {
    // Only escaped (\<script): raw, GitHub would take it as a tag.
    expect(md).not.toMatch(/(?<!\\)<script/i);
    expect(md).not.toContain("\u001b");
    expect(md).not.toMatch(/^line2\.txt/m);
    expect(md).not.toContain("line1 line2.txt");
    for (const shown of SHOWN) {
      const cells = md.split(`| ${shown.replace("|", "\\|")} |`).length - 1;
      const prose = md
        .split("\n")
        .filter((line) => !line.startsWith("|"))
        .join("\n");
      const text = prose.split(shown).length - 1;
      expect({ shown, cells, text }).toEqual({ shown, ...times });
    }
  }

  it("escapes them in the dry-run report's collision table and findings (tags, code spans, links, newlines, controls)", async () => {
    fx = await clusterWithOddNames();
    await runAll(fx.steps("preseed"), fx.clock);
    const { report, redactor } = await dryRunOf(fx, "repair");
    const md = renderDryRun(report, "md", redactor);
    // Collision table once; findings list: the summary and the fix's quarantine path.
    expectEscaped(md, { cells: 1, text: 2 });
  });

  it("keeps the plan file's code span and the path command's block whole, and hides a secret with markup characters", async () => {
    fx = await clusterFixture();
    const { report, redactor } = await dryRunOf(fx, "repair");
    redactor.add("pa<ss|w`rd");
    report.planFile = "C:\\plans\\a`b\nc.json";
    report.pathCommand = 'Octopus.Server.exe path --taskLogs "\\\\fs01\\x```y\nz"';
    report.findings[0]!.summary = "connection uses pa<ss|w`rd";
    const md = renderDryRun(report, "md", redactor);
    expect(md).toContain("Plan ``C:\\plans\\a`b\\u000ac.json`` ·");
    expect(md).toContain('\n````\nOctopus.Server.exe path --taskLogs "\\\\fs01\\x```y\\u000az"\n````\n');
    expect(md).toContain("connection uses ***");
    expect(md).not.toMatch(/pa\\?<ss/);
  });

  it("escapes them in the run report's collision list", async () => {
    fx = await clusterWithOddNames();
    const { results } = await runAll(fx.steps("repair"), fx.clock);
    const md = renderRunReportMarkdown(buildRunReport({ workflow: "repair", runId: "r1", results }), new Redactor());
    // The file, and the quarantined copy's path.
    expectEscaped(md, { cells: 0, text: 2 });
  });
});
