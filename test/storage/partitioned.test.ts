/**
 * A large source folder walked a part at a time (name-spill.ts, docs/partitioned-plan.md), with the
 * limits lowered so that small folders take that path: every name once, case variants in one part,
 * caseUnique as the whole folder's, the scratch file gone while it is open, and the target's index
 * per part deciding as the whole one does.
 */
import { cpSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { nodeFileOps, type FileOps, type ListChunk, type ToldNames } from "../../src/storage/file-ops.js";
import { foldName, foldedHash } from "../../src/storage/fold.js";
import { jobStream, type JobPart } from "../../src/storage/jobs.js";
import { bucketOf, setPartLimits } from "../../src/storage/name-spill.js";
import { TargetReservations } from "../../src/storage/reservations.js";
import { copyTree } from "../../src/storage/index.js";
import { snapshot, tempDirs, writeFile } from "./helpers.js";
import { MTIMES, decisions, randomTree, targetFrom, write } from "./differential-trees.js";
import { seededRandom } from "../helpers/fake-clock.js";

const dir = tempDirs();
let restore: (() => void) | undefined;
afterEach(() => {
  restore?.();
  restore = undefined;
});

/** The engine's own FileOps, with every folder taken as one of unknown size (read in batches: the path a large folder takes). */
const batched: FileOps = { ...nodeFileOps, list: (at, options) => nodeFileOps.list(at, { ...options, folderSize: undefined }) };

/** 600 names, among them case variants (`File-7.txt`, `FILE-7.TXT`, `file-7.txt`) and a folder. */
function folderOfVariants(): { root: string; names: string[] } {
  const root = dir("large");
  const names: string[] = [];
  for (let i = 0; i < 560; i++) names.push(`File-${i}.txt`);
  for (let i = 0; i < 560; i += 15) names.push(`FILE-${i}.TXT`, `file-${i}.txt`);
  names.push("Ünïcode.txt", "ünÏcode.TXT");
  for (const name of names) writeFileSync(path.join(root, name), name);
  return { root, names };
}

async function chunksOf(root: string, onNames?: (told: ToldNames) => void): Promise<ListChunk[]> {
  const chunks: ListChunk[] = [];
  for await (const chunk of nodeFileOps.list(root, { onNames })) chunks.push(chunk);
  return chunks;
}

describe("a folder over the limit is listed a part at a time", () => {
  it("lists every name once, parts in bucket order covering all buckets, case variants in one part, caseUnique as the whole folder's", async () => {
    const { root, names } = folderOfVariants();
    const whole = new Map((await chunksOf(root)).flat().map((e) => [e.name, e.caseUnique]));
    expect(whole.size).toBe(names.length);

    const scratch = dir("scratch");
    restore = setPartLimits({ folderNames: 100, partNames: 40, scratchDir: scratch, runNames: 16 });
    let told: ToldNames;
    const chunks: ListChunk[] = [];
    const listing = nodeFileOps.list(root, { onNames: (t) => (told = t) })[Symbol.asyncIterator]();
    for (let next = await listing.next(); !next.done; next = await listing.next()) {
      // Linux: unlinked while open, so a kill -9 leaves nothing.
      if (process.platform === "linux") expect(readdirSync(scratch)).toEqual([]);
      chunks.push(next.value);
    }
    expect(told).toBe("parts");
    const listed = chunks.flat().map((e) => e.name);
    expect(listed.length).toBe(names.length);
    expect(new Set(listed)).toEqual(new Set(names));
    expect(listed).not.toEqual([...listed].sort()); // not sorted: the folder's order within buckets

    // Parts: contiguous, from bucket 0 to 64, each name in its part's buckets and among its hashes.
    const parts = chunks.filter((c) => c.part).map((c) => c.part!);
    expect(parts.length).toBeGreaterThan(5);
    expect(parts[0]!.lo).toBe(0);
    expect(parts.at(-1)!.hi).toBe(64);
    for (let i = 1; i < parts.length; i++) expect(parts[i]!.lo).toBe(parts[i - 1]!.hi);
    const partOf = new Map<string, number>();
    let p = -1;
    for (const chunk of chunks) {
      if (chunk.part) p++;
      for (const e of chunk) {
        const h = foldedHash(e.name);
        expect(bucketOf(h)).toBeGreaterThanOrEqual(parts[p]!.lo);
        expect(bucketOf(h)).toBeLessThan(parts[p]!.hi);
        expect(parts[p]!.hashes.includes(h)).toBe(true);
        partOf.set(e.name, p);
        expect(e.caseUnique, e.name).toBe(whole.get(e.name));
      }
    }
    for (const name of names) expect(partOf.get(name), name).toBe(partOf.get(names.find((n) => foldName(n) === foldName(name))!));
    // Variants among themselves in sorted order, as the whole folder lists them (they take turns in that order).
    for (let i = 0; i < 560; i += 15)
      expect(listed.filter((n) => foldName(n) === `file-${i}.txt`)).toEqual([`FILE-${i}.TXT`, `File-${i}.txt`, `file-${i}.txt`]);
    expect(readdirSync(scratch)).toEqual([]);
  });

  it("holds the folder whole, sorted, where no scratch file can be made", async () => {
    const { root, names } = folderOfVariants();
    const notAFolder = path.join(dir("scratch"), "a-file");
    writeFileSync(notAFolder, "");
    restore = setPartLimits({ folderNames: 100, partNames: 40, scratchDir: notAFolder, runNames: 16 });
    let told: ToldNames;
    const chunks = await chunksOf(root, (t) => (told = t));
    expect(told).toBeInstanceOf(Uint32Array); // as any folder of up to NAMES_TOLD names tells
    const listed = chunks.flat().map((e) => e.name);
    expect(chunks.some((c) => c.part)).toBe(false);
    expect(listed).toEqual([...names].sort());
  });

  it("jobStream awaits onPart before the first job of each part, with the part's buckets", async () => {
    const { root: source } = folderOfVariants();
    const target = dir("target");
    cpSync(source, path.join(target), { recursive: true });
    restore = setPartLimits({ folderNames: 100, partNames: 40, runNames: 16 });
    const seen: JobPart[] = [];
    let inPart = false;
    const onPart = async (part: JobPart): Promise<void> => {
      inPart = true;
      await new Promise((r) => setTimeout(r, 5));
      seen.push(part);
      inPart = false;
    };
    let jobs = 0;
    for await (const chunk of jobStream({ ops: batched, source, target, trackPending: false, onPart })) {
      expect(inPart).toBe(false);
      const part = seen.at(-1)!;
      for (const job of chunk) {
        const bucket = bucketOf(foldedHash(job.entry.name));
        expect(bucket).toBeGreaterThanOrEqual(part.lo);
        expect(bucket).toBeLessThan(part.hi);
        if ("kind" in job) expect(job.kind, job.entry.name).not.toBe("new"); // the part's index found it there
        jobs++;
      }
    }
    expect(jobs).toBe(readdirSync(source).length);
    expect(seen.length).toBeGreaterThan(5);
    expect(seen.every((p) => p.targetRel === "")).toBe(true);
  });
});

describe("a temp folder that fills up while a source folder is spilled", () => {
  it("reads the folder again and holds it whole; its target folder, spilled already, is indexed whole; decisions as the whole engine's", async () => {
    // The source's long names overflow the scratch limit, the target's few do not.
    const source = dir("source");
    const long = "x".repeat(120);
    for (let i = 0; i < 150; i++) writeFile(source, `servertasks-${i}_${long}.txt`, `mine ${i}\n`);
    const target = dir("target");
    for (let i = 0; i < 150; i += 10) writeFile(target, `servertasks-${i}_${long}.txt`, `mine ${i}\n`);
    for (let i = 5; i < 150; i += 10) writeFile(target, `SERVERTASKS-${i}_${long.toUpperCase()}.TXT`, `theirs ${i}\n`);
    const reference = dir("target");
    cpSync(target, reference, { recursive: true, preserveTimestamps: true });
    const scratch = dir("scratch");

    const whole = await copyTree({ source, target: reference, sourceNode: "OCTO2", ops: nodeFileOps });
    restore = setPartLimits({ folderNames: 100, partNames: 40, runNames: 16, scratchDir: scratch, scratchBytes: 6_000 });
    const parts: JobPart[] = [];
    for await (const chunk of jobStream({ ops: batched, source, target, trackPending: false, onPart: async (p) => void parts.push(p) }))
      for (const job of chunk) if ("kind" in job && job.entry.name.startsWith("servertasks-5_")) expect(job.kind).toBe("case-only");
    expect(parts).toEqual([]); // held whole: no parts
    const held = await copyTree({ source, target, sourceNode: "OCTO2", ops: batched });
    expect(decisions(held)).toEqual(decisions(whole));
    expect(snapshot(target, [])).toEqual(snapshot(reference, []));
    expect(readdirSync(scratch)).toEqual([]);
  });
});

/** Adds `n` task logs, and case variants of some, to a tree's `folder`. */
function addTaskLogs(tree: ReturnType<typeof randomTree>, folder: string, n: number, mark: string): void {
  for (let i = 0; i < n; i++) tree.files.set(`${folder}/servertasks-${i}_${mark}.txt`, { bytes: `${mark} ${i}\n`, mtime: MTIMES[i % 2]! });
  for (let i = 0; i < n; i += 7) tree.files.set(`${folder}/SERVERTASKS-${i}_${mark}.TXT`, { bytes: `variant ${i}\n`, mtime: MTIMES[0]! });
}

describe("a source walked a part at a time decides as the whole engine does", () => {
  for (let seed = 1; seed <= 8; seed++) {
    const label =
      seed % 3 === 0 ? "TaskLogs/ and tasklogs/ onto one target folder" : seed % 4 === 0 ? "a small source into a large target" : "";
    it(`seed ${seed} ${label}`, async () => {
      const next = seededRandom(seed * 7919);
      const sourceTree = randomTree(next, 3);
      if (seed % 4 !== 0) addTaskLogs(sourceTree, "TaskLogs", 80, "mine");
      if (seed % 3 === 0) addTaskLogs(sourceTree, "tasklogs", 40, "mine");
      const source = dir("source");
      write(source, sourceTree);
      const earlierTree = randomTree(next, 2);
      addTaskLogs(earlierTree, "TaskLogs", 30, "mine");
      const earlier = dir("earlier");
      write(earlier, earlierTree);
      const targetTree = targetFrom(next, sourceTree, true);
      addTaskLogs(targetTree, "TaskLogs", 120, "theirs");
      const first = dir("target");
      write(first, targetTree);
      const targets = [first, dir("target"), dir("target")];
      for (const t of targets.slice(1)) cpSync(first, t, { recursive: true, preserveTimestamps: true });
      const notAFolder = path.join(dir("scratch"), "a-file");
      writeFileSync(notAFolder, "");
      const scratch = dir("scratch");
      // The whole engine (these folders are far under the limit), then parts of up to 5 names in
      // folders over 6, then the same with no scratch file to be made (held whole).
      const ways: { ops: FileOps; limits?: Parameters<typeof setPartLimits>[0] }[] = [
        { ops: nodeFileOps },
        { ops: batched, limits: { folderNames: 6, partNames: 5, scratchDir: scratch, runNames: 4 } },
        { ops: batched, limits: { folderNames: 6, partNames: 5, scratchDir: notAFolder, runNames: 4 } },
      ];
      const results = [];
      for (let i = 0; i < ways.length; i++) {
        const { ops, limits } = ways[i]!;
        const undo = limits ? setPartLimits(limits) : () => undefined;
        try {
          const reservations = new TargetReservations();
          await copyTree({ source: earlier, target: targets[i]!, sourceNode: "OCTO1", ops, dryRun: true, reservations });
          const dryRun = await copyTree({ source, target: targets[i]!, sourceNode: "OCTO2", ops, dryRun: true, reservations });
          const summary = await copyTree({ source, target: targets[i]!, sourceNode: "OCTO2", ops });
          const again = await copyTree({ source, target: targets[i]!, sourceNode: "OCTO2", ops });
          results.push({
            dryRun: decisions(dryRun),
            decisions: decisions(summary),
            again: decisions(again),
            bytes: snapshot(targets[i]!, []),
          });
        } finally {
          undo();
        }
      }
      expect(results[1], "parts against the whole engine").toEqual(results[0]);
      expect(results[2], "held whole (no scratch file) against the whole engine").toEqual(results[0]);
      expect(readdirSync(scratch)).toEqual([]);
    });
  }
});
