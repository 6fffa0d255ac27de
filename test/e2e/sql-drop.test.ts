import { describe, expect, it } from "vitest";
import type { VerifyCopyResult } from "../../src/model/copy-results.js";
import { scenarios, stepResult, unreadableLogs } from "./harness.js";

const scenario = scenarios();

describe("the SQL connection dropped mid-inventory", () => {
  it("is retried, and the repair completes with every task accounted for", async () => {
    const s = await scenario({ standin: { seedTasks: 4 } });
    const { cluster } = s.standin;
    // Armed once every node is stopped: the next big read is the task inventory (which node ran which task).
    let armed = false;
    cluster.onChange(() => {
      if (armed || cluster.nodes().some((n) => n.running)) return;
      armed = true;
      s.standin.setSqlFaults!({ dropConnectionAfterRows: 3 });
    });
    const r = await s.cli("repair", s.planFile, "--yes", "--json");
    expect(r.code, r.stderr).toBe(0);
    expect(armed).toBe(true);
    // The one-shot knob is gone: the connection really was cut during the run.
    expect(s.standin.sqlFaults!()).toEqual({});

    const completed = cluster.tasks().filter((t) => t.completedTime !== null);
    const verified = await stepResult<VerifyCopyResult>(s, r.outcome, "verify-copy");
    expect(verified).toMatchObject({ tasksChecked: completed.length, logsNotCopied: [], logsNowhere: [], packagesMissing: [] });
    expect(await unreadableLogs(s)).toEqual([]);
  });
});
