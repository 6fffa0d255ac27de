import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { listTree, tempDir } from "../steps/helpers.js";
import { errorOf } from "../helpers/envelope.js";

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../dist/cli/main.js");

function octoha(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { cwd, timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

describe("octoha dry-run / repair verbs", () => {
  it("a plan with problems exits 2, names the field, and writes nothing (no state directory)", async () => {
    const t = await tempDir();
    cleanup = t.cleanup;
    await writeFile(
      path.join(t.dir, "plan.json"),
      JSON.stringify({ version: 1, octopus: { serverUrl: "not a url", sql: { connectionString: { env: "SQL" } } }, nodes: [], shared: {} }),
    );
    const before = await listTree(t.dir);
    const r = await octoha(["dry-run", "plan.json", "--format", "html", "--out", "report.html"], t.dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("octopus.serverUrl");
    expect(await listTree(t.dir)).toEqual(before);
  });

  it("--json failures are one JSON object on stdout with the exit code", async () => {
    const t = await tempDir();
    cleanup = t.cleanup;
    const r = await octoha(["dry-run", "missing.json", "--json"], t.dir);
    expect(r.code).toBe(2);
    expect(errorOf(r.stdout, "dry-run", 2)).toMatchObject({ code: "PLAN_UNREADABLE" });
  });

  it("--out x.json is a change set (JSON): with --format html it is refused as bad input before anything is read", async () => {
    const t = await tempDir();
    cleanup = t.cleanup;
    const r = await octoha(["dry-run", "missing.json", "--format", "html", "--out", "changes.json"], t.dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--out changes\.json is a \.json file but --format is html/);
  });

  it("help lists the dry-run and repair verbs with their options", async () => {
    const t = await tempDir();
    cleanup = t.cleanup;
    const dry = await octoha(["dry-run", "--help"], t.dir);
    expect(dry.stdout).toMatch(/--detailed-exitcode/);
    expect(dry.stdout).toMatch(/--workflow <name>/);
    const repair = await octoha(["repair", "--help"], t.dir);
    expect(repair.stdout).toMatch(/--cancel-tasks/);
    expect(repair.stdout).toMatch(/--verify-all/);
  });
});
