/**
 * The target folder listed for the source folder's names only (ListOptions.onNames and keep) must
 * decide every file as the whole index does. Random trees full of what makes those decisions hard:
 * case variants of files and folders on both sides (`Dir/`, `dir/`), a file where the other side
 * has a folder, the same name with the same or other bytes, another node's files, an old temp file,
 * (in some seeds) a folder large enough to be read in batches, and (in others) 300 names between
 * `Dir` and `dir` in the source root's sorted listing, so that they come in different chunks and
 * the target folder is listed ahead for the first before the second is seen. Each seed copies into three
 * identical targets (a dry-run, the copy, and the copy again): through the engine's own FileOps (filtered, the lstat thread's path), through
 * a wrapped FileOps that honours the filter (listWithStats' path), and through one that drops it
 * (the whole index). Bytes on disk, the quarantine and the reported decisions must all agree.
 */
import { cpSync, mkdirSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { copyTree, nodeFileOps, type FileOps } from "../../src/storage/index.js";
import type { CopySummary } from "../../src/storage/types.js";
import { snapshot, tempDirs } from "./helpers.js";
import { seededRandom } from "../helpers/fake-clock.js";

const dir = tempDirs();

const FOLDERS = ["TaskLogs", "tasklogs", "Artifacts", "Dir", "dir", "sub", "Sub", "Ünïcode", "ÜNÏCODE"];
const FILES = [
  "a.txt",
  "A.txt",
  "a.TXT",
  "b.log",
  "B.LOG",
  "servertasks-1_x.txt",
  "ServerTasks-1_X.txt",
  "c",
  "C",
  "ß.txt",
  "SS.txt",
  "sub",
];
const BYTES = ["one\n", "two\n", "three, longer\n", ""];
const MTIMES = [1_790_000_000, 1_790_000_100];

interface Tree {
  files: Map<string, { bytes: string; mtime: number }>;
  folders: Set<string>;
}

function randomTree(next: () => number, depth: number): Tree {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
  const tree: Tree = { files: new Map(), folders: new Set() };
  const fill = (rel: string, level: number): void => {
    const files = 1 + Math.floor(next() * 5);
    for (let i = 0; i < files; i++)
      tree.files.set(rel ? `${rel}/${pick(FILES)}` : pick(FILES), { bytes: pick(BYTES), mtime: pick(MTIMES) });
    if (level >= depth) return;
    const folders = Math.floor(next() * 3);
    for (let i = 0; i < folders; i++) {
      const sub = rel ? `${rel}/${pick(FOLDERS)}` : pick(FOLDERS);
      tree.folders.add(sub);
      fill(sub, level + 1);
    }
  };
  fill("", 0);
  return tree;
}

/** Writes a tree; a path whose parent is a file (or a file where a folder is) is skipped, as a file system would refuse it. */
function write(root: string, tree: Tree): void {
  for (const folder of [...tree.folders].sort()) {
    try {
      mkdirSync(path.join(root, ...folder.split("/")), { recursive: true });
    } catch {
      // a file already stands in the way
    }
  }
  for (const [rel, { bytes, mtime }] of tree.files) {
    const abs = path.join(root, ...rel.split("/"));
    try {
      mkdirSync(path.dirname(abs), { recursive: true });
      writeFileSync(abs, bytes, { flag: "wx" });
      utimesSync(abs, mtime, mtime);
    } catch {
      // a folder of that name, or a file in the way of its parent
    }
  }
}

/** The target: some of the source's files (the same or other bytes, or a case variant), and another node's. */
function targetFrom(next: () => number, source: Tree, bulk: boolean): Tree {
  const other = randomTree(next, 2);
  const tree: Tree = { files: new Map(), folders: new Set(other.folders) };
  for (const [rel, facts] of other.files) tree.files.set(rel.replace(/([^/]+)$/, "other-$1"), facts);
  for (const [rel, facts] of source.files) {
    const roll = next();
    if (roll < 0.3)
      tree.files.set(rel, facts); // already copied
    else if (roll < 0.45) tree.files.set(rel, { bytes: `${facts.bytes}changed\n`, mtime: facts.mtime });
    else if (roll < 0.55)
      tree.files.set(
        rel.replace(/([^/]+)$/, (n) => n.toUpperCase()),
        facts,
      ); // a case variant
    else if (roll < 0.6) tree.folders.add(rel); // a folder where the source has a file
  }
  for (const folder of source.folders)
    if (next() < 0.1) tree.files.set(folder, { bytes: "a file where a folder goes\n", mtime: MTIMES[0]! });
  tree.files.set(`TaskLogs/a.txt.0000.old.octoha-tmp`, { bytes: "half a copy", mtime: MTIMES[0]! });
  if (bulk)
    for (let i = 0; i < 1500; i++) tree.files.set(`TaskLogs/servertasks-${i}_OTHER.txt`, { bytes: "another node's\n", mtime: MTIMES[1]! });
  return tree;
}

/** A wrapped FileOps (listWithStats' path), with or without the filter. */
function wrapped(filter: boolean): FileOps {
  return {
    ...nodeFileOps,
    list: (at, options) => nodeFileOps.list(at, filter ? options : { ...options, onNames: undefined, keep: undefined }),
  };
}

function decisions(summary: CopySummary): unknown {
  return {
    copied: summary.filesCopied,
    skipped: summary.filesSkipped,
    quarantined: summary.filesQuarantined ?? 0,
    collisions: summary.collisions.map((c) => `${c.kind} ${c.relPath} -> ${c.targetRelPath} (${c.winner})`).sort(),
    errors: summary.errors.map((e) => `${(e as { code?: string }).code} ${(e as { relPath?: string }).relPath ?? ""}`).sort(),
  };
}

describe("a target folder listed for the source folder's names decides as the whole index does", () => {
  for (let seed = 1; seed <= 24; seed++) {
    const label = [seed % 8 === 0 ? "a folder read in batches" : "", seed % 3 === 0 ? "case-variant folders chunks apart" : ""];
    it(`seed ${seed} ${label.filter(Boolean).join(", ")}`, async () => {
      const next = seededRandom(seed); // the same trees for a seed on every machine
      const sourceTree = randomTree(next, 3);
      // Upper-case names sort before "Z", lower-case ones after it.
      const apart = seed % 3 === 0;
      if (apart) {
        for (let i = 0; i < 300; i++) sourceTree.files.set(`Z${String(i).padStart(4, "0")}.txt`, { bytes: "filler\n", mtime: MTIMES[0]! });
        sourceTree.files.set("Dir/x.txt", { bytes: "x from Dir\n", mtime: MTIMES[0]! });
        sourceTree.files.set("dir/a.txt", { bytes: "a from dir\n", mtime: MTIMES[0]! });
      }
      const source = dir("source");
      write(source, sourceTree);
      const first = dir("target");
      const targetTree = targetFrom(next, sourceTree, seed % 8 === 0);
      // A case variant of a name only the second of `Dir/` and `dir/` has: a filtered index listed for the first misses it.
      if (apart) targetTree.files.set("dir/A.txt", { bytes: "the target's A\n", mtime: MTIMES[1]! });
      write(first, targetTree);
      const targets = [first, dir("target"), dir("target")];
      for (const t of targets.slice(1)) cpSync(first, t, { recursive: true, preserveTimestamps: true });
      const ways: FileOps[] = [nodeFileOps, wrapped(true), wrapped(false)];

      const results = [];
      for (let i = 0; i < 3; i++) {
        const dryRun = await copyTree({ source, target: targets[i]!, sourceNode: "OCTO2", ops: ways[i]!, dryRun: true });
        const summary = await copyTree({ source, target: targets[i]!, sourceNode: "OCTO2", ops: ways[i]! });
        const again = await copyTree({ source, target: targets[i]!, sourceNode: "OCTO2", ops: ways[i]! });
        results.push({
          dryRun: decisions(dryRun),
          decisions: decisions(summary),
          again: decisions(again),
          bytes: snapshot(targets[i]!, []),
        });
      }
      expect(results[0], "the engine's own FileOps against the whole index").toEqual(results[2]);
      expect(results[1], "a wrapped FileOps honouring the filter against the whole index").toEqual(results[2]);
    });
  }
});
