/**
 * The intent protocol under real SIGKILLs (README, "Crash safety"): an `octoha copy` child kills
 * itself at a named point of one file's copy (fixtures/copy-point.mjs), then a plain re-run must
 * leave the target byte-identical to the source, with no stray file and nobody else's file
 * overwritten.
 */
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { appendFileSync, existsSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { copyTree, undoRunCopies } from "../../src/storage/index.js";
import { allFiles, faultyOps, snapshot, tempDirs, writeFile } from "./helpers.js";
import { resultOf } from "../helpers/envelope.js";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const main = path.join(repo, "dist", "cli", "main.js");
const hook = path.join(repo, "test", "storage", "fixtures", "copy-point.mjs");
const dir = tempDirs();

const BIG = "Artifacts/bundle.bin";
const BIG_BYTES = 8 * 1024 * 1024 + 77;

function makeSource(): string {
  const source = dir("source");
  for (let i = 0; i < 12; i++) writeFile(source, `TaskLogs/servertasks-${i}_log.txt`, `task ${i}\n`.repeat(40), 1_790_000_000 + i);
  writeFile(source, BIG, randomBytes(BIG_BYTES), 1_790_000_100);
  return source;
}

interface Run {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
}

function copy(source: string, target: string, point?: object, extra: string[] = []): Run {
  const args = ["--import", hook, main, "copy", source, target, "--node", "OCTO1", "--json", ...extra];
  const env = { ...process.env, COPY_POINT: point ? JSON.stringify(point) : "" };
  const r = spawnSync(process.execPath, args, { encoding: "utf8", timeout: 60_000, env });
  return { status: r.status, signal: r.signal, stdout: r.stdout };
}

interface Line {
  relPath: string;
  sha256?: string;
  intent?: "open" | "withdrawn";
}

const manifestOf = (target: string): string => path.join(target, ".octoha", "manifest-copy.jsonl");

function lines(target: string): Line[] {
  const file = manifestOf(target);
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.endsWith("}"))
    .map((l) => JSON.parse(l) as Line);
}

/** Each path's last record: "open" (an intent not yet closed), "withdrawn", or "done". */
function lastState(target: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const l of lines(target)) out.set(l.relPath, l.intent ?? "done");
  return out;
}

const sha = (file: string): string => createHash("sha256").update(readFileSync(file)).digest("hex");

function expectWholeAndClean(source: string, target: string): void {
  expect(snapshot(target)).toEqual(snapshot(source));
  expect(allFiles(target).filter((f) => f.endsWith(".octoha-tmp"))).toEqual([]);
  expect(existsSync(path.join(target, ".octoha", "conflicts"))).toBe(false);
  for (const rel of snapshot(source).keys()) expect(lastState(target).get(rel), rel).toBe("done");
}

/** The plain re-run after a kill: exit 0, the target whole and clean; its summary, for the test's own checks. */
function rerunWhole(source: string, target: string): { collisions: unknown[] } {
  const again = copy(source, target);
  expect(again.status, again.stdout).toBe(0);
  expectWholeAndClean(source, target);
  return resultOf<{ collisions: unknown[] }>(again.stdout, "copy", 0);
}

describe("SIGKILL at each point of the intent protocol, then a re-run", () => {
  const cases: { point: string; left: (at: string, source: string) => void }[] = [
    { point: "before-create", left: (at) => expect(existsSync(at)).toBe(false) },
    { point: "after-create", left: (at) => expect(statSync(at).size).toBe(0) },
    {
      point: "mid-write",
      left: (at, source) => {
        expect(statSync(at).size).toBeLessThanOrEqual(BIG_BYTES);
        expect(sha(at)).not.toBe(sha(path.join(source, BIG))); // partial, under its final name
      },
    },
    { point: "before-done", left: (at, source) => expect(sha(at)).toBe(sha(path.join(source, BIG))) },
  ];

  for (const { point, left } of cases) {
    it(`${point}: the intent is durable and open, and the re-run finishes the file byte for byte`, () => {
      const source = makeSource();
      const target = dir("target");
      const killed = copy(source, target, { name: "bundle.bin", point });
      expect(killed.signal).toBe("SIGKILL");
      expect(lastState(target).get(BIG)).toBe("open"); // written before the file was created
      left(path.join(target, BIG), source);

      expect(rerunWhole(source, target).collisions).toEqual([]);
    });
  }

  it("after-done: the file is vouched for, and the re-run skips it without reading it", () => {
    const source = makeSource();
    const target = dir("target");
    const killed = copy(source, target, { name: "bundle.bin", point: "after-done" });
    expect(killed.signal).toBe("SIGKILL");
    expect(lastState(target).get(BIG)).toBe("done");
    const again = copy(source, target);
    expect(again.status).toBe(0);
    const summary = resultOf<{ bytesSkipped: number }>(again.stdout, "copy", 0);
    expect(summary.bytesSkipped).toBeGreaterThanOrEqual(BIG_BYTES);
    expectWholeAndClean(source, target);
  });

  it("between the index snapshot's write and its rename: the re-run, a no-op, leaves no temp file beside the manifest", () => {
    const source = makeSource();
    const target = dir("target");
    const killed = copy(source, target, { name: "", point: "snapshot-rename" });
    expect(killed.signal).toBe("SIGKILL");
    const octoha = path.join(target, ".octoha");
    expect(allFiles(octoha).filter((f) => f.endsWith(".octoha-tmp"))).toHaveLength(1);
    const again = copy(source, target);
    expect(again.status, again.stdout).toBe(0);
    expect(resultOf<{ filesCopied: number }>(again.stdout, "copy", 0).filesCopied).toBe(0);
    expectWholeAndClean(source, target); // no temp file anywhere under the target, .octoha included
  });

  it("a batch torn by an earlier crash, then a kill mid-write: the intent written after the torn bytes still proves the file ours", () => {
    const source = makeSource();
    const target = dir("target");
    const big = readFileSync(path.join(source, BIG));
    rmSync(path.join(source, BIG));
    expect(copy(source, target).status).toBe(0); // everything but the bundle, vouched for
    appendFileSync(manifestOf(target), '{"v":2,"relPath":"TaskLogs/torn-by-a-cr'); // a batch a crash cut short
    writeFileSync(path.join(source, BIG), big);
    utimesSync(path.join(source, BIG), 1_790_000_100, 1_790_000_100);
    // The bundle is the only file to copy: its intent is the first line written after the torn bytes.
    expect(copy(source, target, { name: "bundle.bin", point: "mid-write" }).signal).toBe("SIGKILL");
    expect(lastState(target).get(BIG)).toBe("open");

    expect(rerunWhole(source, target).collisions).toEqual([]);
  });

  it("a manifest edited by hand: the lines that are not records are named in a warning, and the copy is still whole", () => {
    const source = makeSource();
    const target = dir("target");
    expect(copy(source, target).status).toBe(0);
    appendFileSync(manifestOf(target), 'null\n{"v":2,"relPath":"Artifacts/bundle.bin","size":"big"}\n');
    const again = copy(source, target);
    expect(again.status, again.stdout).toBe(0);
    const warnings = resultOf<{ warnings?: string[] }>(again.stdout, "copy", 0).warnings ?? [];
    expect(warnings).toEqual([
      expect.stringMatching(/^Manifest '.*manifest-copy\.jsonl' line \d+( after byte \d+)? and 1 more line is not a record/),
    ]);
    expectWholeAndClean(source, target);
  });

  it("intents written ahead for the queued files, then a kill: their files were never created, and the re-run copies them", () => {
    const source = makeSource();
    const target = dir("target");
    const LOG = "TaskLogs/servertasks-3_log.txt";
    const killed = copy(source, target, { name: "servertasks-3_log.txt", point: "before-create" }, ["--concurrency", "1"]);
    expect(killed.signal).toBe("SIGKILL");
    expect(lastState(target).get(LOG)).toBe("open");
    // Announced with the batch the killed file asked for: open, and their files never created.
    const open = [...lastState(target)].filter(([, state]) => state === "open").map(([rel]) => rel);
    const aheadOfIt = open.filter((rel) => rel !== LOG && !existsSync(path.join(target, rel)));
    expect(aheadOfIt.length).toBeGreaterThan(0);

    expect(rerunWhole(source, target).collisions).toEqual([]);
  });

  it("a log that grew between the kill and the re-run: the partial copy is rewritten from the grown file", () => {
    const source = makeSource();
    const target = dir("target");
    expect(copy(source, target, { name: "bundle.bin", point: "mid-write" }).signal).toBe("SIGKILL");
    appendFileSync(path.join(source, BIG), randomBytes(1000)); // appended, as a log grows
    utimesSync(path.join(source, BIG), 1_790_000_200, 1_790_000_200); // whole seconds: times compare exactly
    expect(copy(source, target).status).toBe(0);
    expectWholeAndClean(source, target);
  });
});

describe("a dry-run after a kill predicts the re-run", () => {
  // (before-done leaves the source's bytes and times: a dry-run found them equal already.)
  for (const point of ["after-create", "mid-write"]) {
    it(`${point}: the half-written file under this source's open intent is to be rewritten, not a collision; the dry-run writes nothing`, () => {
      const source = makeSource();
      const target = dir("target");
      expect(copy(source, target, { name: "bundle.bin", point }).signal).toBe("SIGKILL");
      const before = snapshot(target, []);
      const dry = copy(source, target, undefined, ["--dry-run"]);
      expect(dry.status, dry.stdout).toBe(0);
      expect(snapshot(target, [])).toEqual(before); // no done record, no withdrawal, no removal
      expect(lastState(target).get(BIG)).toBe("open");
      type Counts = { collisions: unknown[]; filesQuarantined?: number; filesCopied: number; filesSkipped: number };
      const predicted = resultOf<Counts>(dry.stdout, "copy", 0);
      expect(predicted.collisions).toEqual([]);
      expect(predicted.filesQuarantined ?? 0).toBe(0);
      const done = copy(source, target);
      expect(done.status, done.stdout).toBe(0);
      const actual = resultOf<Counts>(done.stdout, "copy", 0);
      expect([predicted.filesCopied, predicted.filesSkipped]).toEqual([actual.filesCopied, actual.filesSkipped]);
      expectWholeAndClean(source, target);
    });
  }
});

describe("someone else's file under a name we intended", () => {
  const theirs = "written by someone else\n";

  it("appearing between our intent and our create: never overwritten, the incoming copy quarantined, the intent withdrawn", () => {
    const source = makeSource();
    const target = dir("target");
    const r = copy(source, target, { name: "bundle.bin", point: "before-create", plant: theirs, kill: false });
    expect(r.signal).toBeNull();
    const summary = resultOf<{ collisions: { targetRelPath: string; winner: string }[] }>(r.stdout, "copy", 0);
    expect(summary.collisions).toEqual([expect.objectContaining({ targetRelPath: BIG, winner: "target" })]);
    expect(readFileSync(path.join(target, BIG), "utf8")).toBe(theirs);
    expect(sha(path.join(target, ".octoha", "conflicts", "OCTO1", ...BIG.split("/")))).toBe(sha(path.join(source, BIG)));
    expect(lastState(target).get(BIG)).toBe("withdrawn");

    copy(source, target);
    expect(readFileSync(path.join(target, BIG), "utf8")).toBe(theirs);
  });

  it("appearing, then a kill before the withdrawal: the open intent does not make the re-run treat their file as ours", () => {
    const source = makeSource();
    const target = dir("target");
    expect(copy(source, target, { name: "bundle.bin", point: "before-create", plant: theirs }).signal).toBe("SIGKILL");
    expect(lastState(target).get(BIG)).toBe("open");
    // The dry-run predicts the collision (their bytes are no part of ours), and leaves the intent open.
    const dry = copy(source, target, undefined, ["--dry-run"]);
    const predicted = resultOf<{ collisions: { targetRelPath: string; winner: string }[] }>(dry.stdout, "copy", 0);
    expect(predicted.collisions).toEqual([expect.objectContaining({ targetRelPath: BIG, winner: "target" })]);
    expect(lastState(target).get(BIG)).toBe("open");

    const r = copy(source, target);
    const summary = resultOf<{ collisions: { targetRelPath: string; winner: string }[] }>(r.stdout, "copy", 0);
    expect(summary.collisions).toEqual([expect.objectContaining({ targetRelPath: BIG, winner: "target" })]);
    expect(readFileSync(path.join(target, BIG), "utf8")).toBe(theirs);
    expect(lastState(target).get(BIG)).not.toBe("open");
  });
});

describe("a source file that changes while it is copied", () => {
  it("is discarded from its final name and reported, its intent withdrawn; the re-run copies it", async () => {
    const source = makeSource();
    const target = dir("target");
    const manifestPath = manifestOf(target);
    const big = path.join(source, BIG);
    let grown = false;
    const ops = faultyOps({
      before: (call, p) => {
        if (call === "read" && p === big && !grown) {
          grown = true;
          appendFileSync(big, "more\n");
        }
      },
    });
    const first = await copyTree({ source, target, manifestPath, ops, sourceNode: "OCTO1" });
    expect(first.errors).toEqual([expect.objectContaining({ code: "COPY_SOURCE_CHANGING" })]);
    expect(existsSync(path.join(target, BIG))).toBe(false);
    expect(lastState(target).get(BIG)).toBe("withdrawn");
    utimesSync(big, 1_790_000_200, 1_790_000_200); // whole seconds: times compare exactly
    await copyTree({ source, target, manifestPath, sourceNode: "OCTO1" });
    expect(snapshot(target)).toEqual(snapshot(source));
  });
});

describe("a rollback and the files a killed run left under open intents", () => {
  it("removes this run's unfinished files, keeps a finished one, another run's, and one whose bytes are not its source's", async () => {
    const target = dir("target");
    const source = dir("source");
    const manifestPath = manifestOf(target);
    const t = 1_790_000_000_000;
    const intent = (relPath: string, run: string) =>
      JSON.stringify({ v: 2, relPath, size: 10, mtimeMs: t, node: "OCTO1", src: "0123456789abcdef", run, intent: "open" });
    for (const name of ["partial", "untimed", "finished", "other-run", "foreign"])
      writeFile(source, `A/${name}.bin`, "1234567890", t / 1000);
    writeFile(target, "A/partial.bin", "12345"); // 5 of 10 bytes: unfinished
    writeFile(target, "A/untimed.bin", "1234567890", t / 1000 + 500); // all bytes, times not yet set: unfinished
    writeFile(target, "A/finished.bin", "1234567890", t / 1000); // bytes and times as announced: a whole copy
    writeFile(target, "A/other-run.bin", "12345");
    writeFile(target, "A/foreign.bin", "abcde"); // someone took the name after our intent; a kill lost the withdrawal
    writeFile(target, "A/done.bin", "12345");
    const done = JSON.stringify({ v: 2, relPath: "A/done.bin", size: 5, mtimeMs: t, sha256: "ab".repeat(32), run: "r1/copy" });
    const lines = ["A/partial.bin", "A/untimed.bin", "A/finished.bin", "A/foreign.bin", "A/done.bin"].map((p) => intent(p, "r1/copy"));
    writeFile(target, ".octoha/manifest-copy.jsonl", [...lines, intent("A/other-run.bin", "r0/copy"), done].join("\n") + "\n");
    const undo = { target, quarantineDirs: [], manifests: [manifestPath], sources: [source], runId: "r1", stepId: "copy", remove: false };
    const r = await undoRunCopies(undo);
    expect(r.tempsRemoved.sort()).toEqual([path.join(target, "A", "partial.bin"), path.join(target, "A", "untimed.bin")]);
    expect([...snapshot(target).keys()].sort()).toEqual(["A/done.bin", "A/finished.bin", "A/foreign.bin", "A/other-run.bin"]);
    expect(readFileSync(path.join(target, "A", "foreign.bin"), "utf8")).toBe("abcde");
    expect(r.kept).toEqual(
      expect.arrayContaining([{ path: path.join(target, "A", "foreign.bin"), reason: expect.stringContaining("not provably octoha's") }]),
    );
  });
});
