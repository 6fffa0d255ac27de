/**
 * A damaged journal through the real CLI: every record carries its sequence number and a chained
 * checksum, and journal.head names the newest record on disk. Anything but a torn final record (a
 * crash mid-write) is refused with file:line, exit 2, and nothing changed; a journal of the
 * previous release's format (no checksums) is still resumed.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { lockFile } from "../../src/runner/lock.js";
import { cliFixture, octoha } from "./cli-fixture.js";
import { resultOf } from "../helpers/envelope.js";

/** A run stopped at step two's approval gate: step one applied, a resumable journal of N records. */
async function stoppedRun() {
  const f = cliFixture();
  const env = { ...f.env, GATE: "1" };
  const first = await octoha(["run", f.plan], env);
  expect(first.code, first.stderr).toBe(3);
  const runId = f.lines()[0]!.split(":")[0]!;
  const runDir = path.join(f.stateDir, "runs", runId);
  const file = path.join(runDir, "journal.jsonl");
  const head = path.join(runDir, "journal.head");
  const lines = () => readFileSync(file, "utf8").split("\n").slice(0, -1);
  const resume = () => octoha(["resume", f.plan, "--run", runId, "--yes"], env);
  return { f, env, runId, file, head, lines, resume };
}

type Stopped = Awaited<ReturnType<typeof stoppedRun>>;

/** The damaged journal is refused naming file:line, exit 2; nothing ran, nothing was written, no lock is left. */
async function expectRefused(r: Stopped, line: number, why: RegExp) {
  const before = { journal: readFileSync(r.file), head: readFileSync(r.head), effects: r.f.lines() };
  const attempt = await r.resume();
  expect(attempt.code, attempt.stderr).toBe(2);
  expect(attempt.stderr).toContain(`Journal ${r.file}:${line} is damaged: `);
  expect(attempt.stderr).toMatch(why);
  expect(attempt.stderr).toContain("Nothing was changed.");
  expect(attempt.stderr).toContain("Restore");
  expect(r.f.lines()).toEqual(before.effects);
  expect(readFileSync(r.file).equals(before.journal)).toBe(true);
  expect(readFileSync(r.head).equals(before.head)).toBe(true);
  expect(existsSync(lockFile(r.f.stateDir))).toBe(false);
  // status reads the same way: it names the damage too.
  const status = await octoha(["status", r.f.plan], r.env);
  expect(status.code).toBe(2);
  expect(status.stderr).toContain(`${r.file}:${line} is damaged`);
}

describe("a damaged journal is refused with file:line and exit 2", () => {
  it("a byte flipped inside a number, still valid JSON (the step index of the last snapshot: 1 → 2 would skip step two)", async () => {
    const r = await stoppedRun();
    const lines = r.lines();
    const at = lines.findLastIndex((l) => l.includes('"index":1,'));
    expect(at).toBeGreaterThan(0);
    lines[at] = lines[at]!.replace('"index":1,', '"index":2,');
    JSON.parse(lines[at]!);
    writeFileSync(r.file, `${lines.join("\n")}\n`);
    await expectRefused(r, at + 1, /its checksum does not match/);
  });

  it("a line deleted, repeated or moved", async () => {
    for (const damage of ["delete", "repeat", "move"] as const) {
      const r = await stoppedRun();
      const lines = r.lines();
      if (damage === "delete") lines.splice(2, 1);
      else if (damage === "repeat") lines.splice(2, 0, lines[2]!);
      else [lines[2], lines[3]] = [lines[3]!, lines[2]!];
      writeFileSync(r.file, `${lines.join("\n")}\n`);
      const line = damage === "repeat" ? 4 : 3;
      await expectRefused(
        r,
        line,
        new RegExp(`it is record ${damage === "repeat" ? 3 : 4}, where record ${line} belongs: lines were removed, repeated or moved`),
      );
    }
  });

  it("the file cut in the middle, cut at a line boundary, or cut inside the last record journal.head names", async () => {
    for (const cut of ["middle", "boundary", "inside-last"] as const) {
      const r = await stoppedRun();
      const bytes = readFileSync(r.file);
      const lines = r.lines();
      const lastStart = bytes.length - Buffer.byteLength(lines.at(-1)!) - 1;
      const length = cut === "middle" ? Math.floor(bytes.length / 2) : cut === "boundary" ? lastStart : lastStart + 20;
      writeFileSync(r.file, bytes.subarray(0, length));
      const complete = bytes.subarray(0, length).toString().split("\n").length - 1;
      await expectRefused(
        r,
        complete + 1,
        new RegExp(
          `it ends after record ${complete}, but record ${lines.length} was written \\(journal.head\\): the end of the journal is missing`,
        ),
      );
    }
  });
});

describe("a torn final record (a crash while writing it) is accepted", () => {
  it("an incomplete last line after the record journal.head names is ignored with a warning, and the run resumes", async () => {
    const r = await stoppedRun();
    const atGate = { journal: readFileSync(r.file), head: readFileSync(r.head), count: r.lines().length };
    // Let the run finish, then put back the state of a crash while its next record was half written.
    const finished = await r.resume();
    expect(finished.code, finished.stderr).toBe(0);
    const next = r.lines()[atGate.count]!;
    writeFileSync(r.file, Buffer.concat([atGate.journal, Buffer.from(next.slice(0, Math.floor(next.length / 2)))]));
    writeFileSync(r.head, atGate.head);
    writeFileSync(r.f.env.EFFECTS, `${r.runId}:step-1\n`);

    const resumed = await r.resume();
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain(`warning: Ignored a torn last line (line ${atGate.count + 1}, `);
    expect(r.f.lines()).toEqual([`${r.runId}:step-1`, `${r.runId}:step-2`, `${r.runId}:step-3`]);
    // The torn fragment was cut off before appending: the journal reads back clean.
    const status = await octoha(["status", r.f.plan, "--json"], r.env);
    expect(resultOf(status.stdout, "status", 0)).toMatchObject({ outcome: { status: "done" }, warnings: [] });
  });
});

describe("journals of the previous format (version 1, no checksums)", () => {
  const V1 = fileURLToPath(new URL("./fixtures/journal-v1-20261204T125111Z-308d.jsonl", import.meta.url));
  const RUN_ID = "20261204T125111Z-308d";

  it("a run stopped by the previous release is resumed after an upgrade, with a warning; new records are checked", async () => {
    const f = cliFixture();
    const runDir = path.join(f.stateDir, "runs", RUN_ID);
    mkdirSync(runDir, { recursive: true });
    const file = path.join(runDir, "journal.jsonl");
    writeFileSync(file, readFileSync(V1, "utf8").replaceAll("__PLAN_FILE__", f.plan));
    writeFileSync(f.env.EFFECTS, `${RUN_ID}:step-1\n`);
    const env = { ...f.env, GATE: "1" };

    const status = await octoha(["status", f.plan, "--json"], env);
    expect(status.code, status.stderr).toBe(0);
    expect(resultOf(status.stdout, "status", 0)).toMatchObject({
      runId: RUN_ID,
      outcome: { status: "awaiting-approval" },
      warnings: [expect.stringContaining("previous journal format (version 1)")],
    });

    const resumed = await octoha(["resume", "--state-dir", f.stateDir, "--yes"], env);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain("warning: The first 9 records of run");
    expect(f.lines()).toEqual([`${RUN_ID}:step-1`, `${RUN_ID}:step-2`, `${RUN_ID}:step-3`]);
    const lines = readFileSync(file, "utf8").split("\n").slice(0, -1);
    expect(lines.slice(0, 9).every((l) => l.startsWith('{"v":1,'))).toBe(true);
    expect(lines.slice(9).every((l, i) => l.startsWith(`{"v":2,"seq":${i + 10},`) && /,"sum":"[0-9a-f]{16}"}$/.test(l))).toBe(true);

    // The new records are checked: a changed byte in one of them is refused.
    copyFileSync(file, `${file}.bak`);
    lines[10] = lines[10]!.replace('"seq":11,', '"seq":12,');
    writeFileSync(file, `${lines.join("\n")}\n`);
    const refused = await octoha(["status", f.plan], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`${file}:11 is damaged`);
  });
});
