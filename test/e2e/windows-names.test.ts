/**
 * A node's disk holds a file name Windows cannot hold (`a|b.txt`: a Linux node, or a share that
 * passes such names through). Found by the audit: the dry-run said "A run would stop" over it, the
 * run copied it anyway, exited 0 and named it nowhere. Now both say the same: the run copies it
 * (stopping mid-window, maintenance on and services stopped, over a log's name is worse) and says
 * so, as a warning of the copy step, in its output and its report.
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { nodeFolder, scenarios, sharedFolder } from "./harness.js";

const scenario = scenarios();
const BAD = "a|b.txt";

describe("a task log whose name Windows cannot hold, on a node's disk", () => {
  it("the dry-run reports it as a warning with its fix and exits as for a warning, not 'a run would stop'", async () => {
    const s = await scenario();
    writeFileSync(path.join(nodeFolder(s, "OCTO1", "TaskLogs"), BAD), "x\n");
    const out = path.join(path.dirname(s.planFile), "d.md");

    const dry = await s.cli("dry-run", s.planFile, "--workflow", "repair", "--format", "md", "--out", out);
    expect(dry.code, dry.stderr).toBe(0);
    const md = readFileSync(out, "utf8");
    expect(md).not.toContain("A run would stop");
    expect(md).toContain(`- **WARNING** [copy-task-logs] taskLogs/${BAD}: '${BAD}' contains '|', which Windows does not allow in a name`);
    expect(md).toMatch(
      /fix: A run copies it and lists it in its report; Octopus on Windows cannot open it on the share\. Rename or remove/,
    );
  });

  it("the repair copies it, warns about it while it runs, and names it in report.md and report.json", async () => {
    const s = await scenario();
    writeFileSync(path.join(nodeFolder(s, "OCTO1", "TaskLogs"), BAD), "x\n");

    const r = await s.cli("repair", s.planFile, "--yes", "--json");
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(path.join(sharedFolder(s, "TaskLogs"), BAD), "utf8")).toBe("x\n");
    const warnings = r.lines.filter((l) => l.type === "step-progress" && (l.event as { level: string }).level === "warn");
    expect(warnings.map((l) => (l.event as { message: string }).message)).toContainEqual(
      expect.stringContaining(`taskLogs from OCTO1: ${BAD} is on the share, but Octopus on Windows cannot open it: '${BAD}' contains '|'`),
    );

    const md = readFileSync(r.outcome!.report!, "utf8");
    expect(md).toContain("## Names Windows cannot hold");
    expect(md).toContain(`- taskLogs/${BAD} (from OCTO1): '${BAD}' contains '|', which Windows does not allow in a name`);
    const report = await s.runReport(r.outcome);
    expect(report.nameProblemTotal).toBe(1);
    expect(report.nameProblems).toMatchObject([{ folder: "taskLogs", node: "OCTO1", relPath: BAD, problem: "invalid-windows-name" }]);
  });
});
