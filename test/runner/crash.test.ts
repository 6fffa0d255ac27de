import { spawn } from "node:child_process";
import { xorshift } from "@octoha/standin";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { readJournal } from "../../src/runner/journal.js";
import { lockFile } from "../../src/runner/lock.js";
import { listRuns } from "../../src/runner/runs.js";
import { readRunStatus } from "../../src/runner/status.js";
import { tempDir } from "./helpers.js";

const CHILD = fileURLToPath(new URL("./fixtures/crash-child.mjs", import.meta.url));
const PARTS = [1, 3, 1, 4, 2, 1];
const SEED = Number(process.env.CRASH_SEED ?? 20261126);
const KILLS_WANTED = 30;

function runChildRaw(
  env: Record<string, string>,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

let spawnCount = 0;
const runChild = (env: Record<string, string>) => {
  spawnCount++;
  return runChildRaw(env);
};

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

describe("crash safety", () => {
  it(`SIGKILL at ${KILLS_WANTED}+ seeded points, then resume: every effect exactly once, journal reads back, run done`, async () => {
    const random = xorshift(SEED);
    let kills = 0;
    const spawns = spawnCount;
    const killPoints: string[] = [];
    for (let trial = 0; kills < KILLS_WANTED && trial < 40; trial++) {
      const t = tempDir("octoha-crash-");
      cleanups.push(t.cleanup);
      const stateDir = path.join(t.dir, "state");
      const effects = path.join(t.dir, "effects.log");
      const where = `seed ${SEED}, trial ${trial}`;
      // Up to three crashes per trial (the first in `run`, then in `resume`), then a clean resume.
      for (let crash = 0; crash < 3; crash++) {
        const started = (await listRuns(stateDir)).length > 0;
        const kill: Record<string, string> =
          random() < 0.7
            ? { KILL_AFTER_WRITES: String(1 + Math.floor(random() * 28)) }
            : { KILL_AFTER_MS: String(Math.floor(random() * 25)) };
        const r = await runChild({ STATE_DIR: stateDir, EFFECTS: effects, MODE: started ? "resume" : "run", ...kill });
        if (r.signal === "SIGKILL") {
          kills++;
          killPoints.push(`${where}: ${JSON.stringify(kill)}`);
        } else {
          expect(r.code, `${where}: child neither finished nor was killed: ${r.stderr}`).toBe(0);
          break;
        }
      }
      const final = await runChild({ STATE_DIR: stateDir, EFFECTS: effects, MODE: "resume" });
      expect(
        final.code,
        `${where}: resume did not finish (kills: ${killPoints.slice(-3).join("; ")}): ${final.stderr}${final.stdout}`,
      ).toBe(0);
      const runId = (await listRuns(stateDir))[0]!;
      const lines = readFileSync(effects, "utf8").split("\n").filter(Boolean);
      const expected = PARTS.flatMap((parts, i) => Array.from({ length: parts }, (_, p) => `${runId}:step-${i + 1}:${p}`));
      expect(lines.sort(), `${where}: effects not exactly once`).toEqual([...expected].sort());
      const { records, tornLastLine } = await readJournal(stateDir, runId);
      expect(tornLastLine, where).toBeUndefined();
      expect(records.at(-1), where).toMatchObject({ t: "outcome", status: "done", exitCode: 0 });
      expect(existsSync(lockFile(stateDir)), `${where}: lock left behind`).toBe(false);
      const status = await readRunStatus({ stateDir, runId });
      expect(status.outcome?.status, where).toBe("done");
      expect(
        status.steps.every((st) => st.state === "verified"),
        where,
      ).toBe(true);
    }
    if (process.env.CRASH_VERBOSE) console.log(`seed ${SEED}: ${kills} kills, ${spawnCount - spawns} children`, killPoints);
    expect(kills, `seed ${SEED}: only ${kills} kills happened`).toBeGreaterThanOrEqual(KILLS_WANTED);
  });

  it("SIGKILL during rollback at seeded points, then rollback again: every effect undone exactly once, newest first", async () => {
    const random = xorshift(SEED + 1);
    let kills = 0;
    for (let trial = 0; kills < 6 && trial < 10; trial++) {
      const t = tempDir("octoha-crash-rb-");
      cleanups.push(t.cleanup);
      const env = { STATE_DIR: path.join(t.dir, "state"), EFFECTS: path.join(t.dir, "effects.log") };
      expect((await runChild({ ...env, MODE: "run" })).code).toBe(0);
      const where = `seed ${SEED + 1}, trial ${trial}`;
      for (let crash = 0; crash < 2; crash++) {
        const r = await runChild({ ...env, MODE: "rollback", KILL_AFTER_WRITES: String(1 + Math.floor(random() * 14)) });
        if (r.signal !== "SIGKILL") break;
        kills++;
      }
      const final = await runChild({ ...env, MODE: "rollback" });
      expect(final.code, `${where}: ${final.stderr}${final.stdout}`).toBe(4);
      const lines = readFileSync(env.EFFECTS, "utf8").split("\n").filter(Boolean);
      const applied = lines.filter((l) => !l.startsWith("undo:"));
      const undone = lines.filter((l) => l.startsWith("undo:")).map((l) => l.slice(5));
      expect(undone, `${where}: undos not exactly once, newest first`).toEqual([...applied].reverse());
    }
    expect(kills, `seed ${SEED + 1}: only ${kills} kills during rollback`).toBeGreaterThanOrEqual(6);
  });
});
