/** verify-copy and the task-log owner over more ServerTask rows than one page, through the TDS stand-in. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createSqlEngine, startTdsServer, type TdsServer } from "@octoha/standin";
import { makeClusterState, SQL_DATABASE, SQL_PASSWORD, SQL_USER } from "@octoha/standin/testing";
import { createInventory } from "../../src/octopus/sql/inventory.js";
import { createRunFacts } from "../../src/steps/facts.js";
import { buildTaskLogOwner } from "../../src/steps/task-log-owner.js";
import { createVerifyCopyStep } from "../../src/steps/verify-copy.js";
import type { StepContext } from "../../src/runner/step.js";
import type { VerifyCopyResult } from "../../src/model/copy-results.js";

const TASKS = 2_502; // 1 … 2500 completed; 2501 executing, 2502 queued (makeClusterState)
const PAGE = 1_000;
const NOWHERE = [7, 507, 1007, 1507, 2007];
const SHARED_UP_TO = 2_000;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** The stand-in, with every ServerTask page request counted. */
async function standin(): Promise<{ server: TdsServer; taskPages: () => number }> {
  const state = makeClusterState({ tasks: TASKS, packages: 0 });
  const engine = createSqlEngine({ state: () => state, revision: () => 1 });
  let pages = 0;
  const server = await startTdsServer({
    user: SQL_USER,
    password: SQL_PASSWORD,
    database: SQL_DATABASE,
    handler: {
      execute: (text, params) => {
        if (text.includes("[dbo].[ServerTask]") && text.includes("@after")) pages++;
        return engine.execute(text, params);
      },
    },
  });
  cleanups.push(() => server.close());
  return { server, taskPages: () => pages };
}

function folders(): { node: string; shared: string; packages: string } {
  const root = mkdtempSync(path.join(os.tmpdir(), "octoha-verify-paging-"));
  cleanups.push(() => rmSync(root, { recursive: true, force: true }));
  const node = path.join(root, "OCTO1", "TaskLogs");
  const shared = path.join(root, "shared", "TaskLogs");
  const packages = path.join(root, "shared", "Packages");
  for (const d of [node, shared, packages]) mkdirSync(d, { recursive: true });
  for (let n = 1; n <= 2_500; n++) {
    if (NOWHERE.includes(n)) continue;
    writeFileSync(path.join(node, `servertasks-${n}_ABCDEFGHIJ.txt`), "");
    if (n <= SHARED_UP_TO) writeFileSync(path.join(shared, `servertasks-${n}_ABCDEFGHIJ.txt`), "");
  }
  return { node, shared, packages };
}

describe("over more ServerTask rows than one page (keyset paging)", () => {
  it("verify-copy checks every completed task exactly once", async () => {
    const { server, taskPages } = await standin();
    const inventory = createInventory(server.connectionString, { pageSize: PAGE });
    cleanups.push(() => inventory.close());
    const dirs = folders();
    const step = createVerifyCopyStep({
      ports: { inventory },
      facts: createRunFacts(),
      sharedTaskLogs: dirs.shared,
      sharedPackages: dirs.packages,
      nodeTaskLogs: [{ node: "OCTO1", access: dirs.node }],
      nodePackages: [],
      logsMissingEverywhere: "list",
    });
    let saved: VerifyCopyResult | undefined;
    const ctx: StepContext = {
      runId: "r",
      stepId: "verify-copy",
      signal: new AbortController().signal,
      checkpoint: async (data) => void (saved = data as VerifyCopyResult),
      emit: () => undefined,
      now: Date.now,
    };
    await expect(step.apply(ctx, undefined)).rejects.toMatchObject({ code: "VERIFY_COPY_FAILED" });
    const r = saved!;
    expect(taskPages()).toBeGreaterThanOrEqual(3);
    expect(r.tasksChecked).toBe(2_500);
    const notCopied = Array.from({ length: 2_500 - SHARED_UP_TO }, (_, i) => SHARED_UP_TO + 1 + i)
      .filter((n) => !NOWHERE.includes(n))
      .map((n) => `ServerTasks-${n}`);
    expect(new Set(r.logsNotCopied)).toEqual(new Set(notCopied));
    expect(r.logsNotCopied).toHaveLength(notCopied.length);
    expect(r.logsNotCopiedTotal).toBe(notCopied.length);
    expect([...r.logsNowhere].sort()).toEqual(NOWHERE.map((n) => `ServerTasks-${n}`).sort());
    expect(r.logsNowhereTotal).toBe(NOWHERE.length);
  });

  it("the task-log owner knows the node of a task on the last page", async () => {
    const { server, taskPages } = await standin();
    const inventory = createInventory(server.connectionString, { pageSize: PAGE });
    cleanups.push(() => inventory.close());
    const { owner, tasksWithOwner } = await buildTaskLogOwner(inventory);
    expect(taskPages()).toBeGreaterThanOrEqual(3);
    // Every task but the queued one (no node yet) has an owner; the fixture alternates OCTO2, OCTO1.
    expect(tasksWithOwner).toBe(TASKS - 1);
    expect(owner("servertasks-1_ABCDEFGHIJ.txt")).toBe("OCTO2");
    expect(owner("servertasks-2_ABCDEFGHIJ.txt")).toBe("OCTO1");
    expect(owner("servertasks-2499_ABCDEFGHIJ/part.tl.txt")).toBe("OCTO2");
    expect(owner("servertasks-2501_ABCDEFGHIJ.txt")).toBe("OCTO2");
    expect(owner("servertasks-2502_ABCDEFGHIJ.txt")).toBeUndefined();
    expect(owner("servertasks-99999_ABCDEFGHIJ.txt")).toBeUndefined();
  });
});
