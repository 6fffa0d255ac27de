/**
 * A node's folder holds an entry no copy can take (a link, here one that leads nowhere, and a
 * FIFO). Found by probing as an outsider: the repair's dry-run left them out ("A run would change
 * the items below", exit 0), and the repair then stopped at copy-task-logs with every node stopped
 * and maintenance mode on. Now the dry-run names each as an error of that step: a run would stop.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, symlinkSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { nodeFolder, scenarios } from "./harness.js";

const scenario = scenarios();

describe("an entry in a node's folder that no copy can take", () => {
  it("the repair's dry-run names it as an error of the copy step, says a run would stop, and exits 1", async () => {
    const s = await scenario();
    const logs = nodeFolder(s, "OCTO1", "TaskLogs");
    symlinkSync("/nonexistent/target", path.join(logs, "dangling.txt"));
    execFileSync("mkfifo", [path.join(logs, "fifo.txt")]);
    const out = path.join(path.dirname(s.planFile), "d.md");

    const dry = await s.cli("dry-run", s.planFile, "--workflow", "repair", "--format", "md", "--out", out);
    expect(dry.code, dry.stderr).toBe(1);
    expect(dry.stderr).toContain("a run would stop: the report has 2 errors (first: taskLogs/dangling.txt from OCTO1 cannot be copied:");
    const md = readFileSync(out, "utf8");
    expect(md).toContain("**A run would stop: fix the errors below first.**");
    for (const name of ["dangling.txt", "fifo.txt"]) {
      expect(md).toContain(
        `- **ERROR** [copy-task-logs] taskLogs/${name} from OCTO1 cannot be copied: '${path.join(logs, name)}' is a symbolic link or special file and was not copied`,
      );
    }
    expect(md).toContain(
      "A run copies the rest, then stops at this step until it is fixed (in a migration or repair: with Octopus stopped",
    );
  });
});
