/**
 * Random trees full of what makes the copy's decisions hard (case variants of files and folders on
 * both sides, a file where the other side has a folder, the same name with the same or other bytes,
 * another node's files, an old temp file), for the tests that compare one way of deciding with
 * another (filtered-differential, partitioned-differential).
 */
import { mkdirSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { CopySummary } from "../../src/storage/types.js";

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
export const MTIMES = [1_790_000_000, 1_790_000_100];

export interface Tree {
  files: Map<string, { bytes: string; mtime: number }>;
  folders: Set<string>;
}

export function randomTree(next: () => number, depth: number): Tree {
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
export function write(root: string, tree: Tree): void {
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
export function targetFrom(next: () => number, source: Tree, bulk: boolean): Tree {
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

export function decisions(summary: CopySummary): unknown {
  return {
    copied: summary.filesCopied,
    skipped: summary.filesSkipped,
    quarantined: summary.filesQuarantined ?? 0,
    collisions: summary.collisions.map((c) => `${c.kind} ${c.relPath} -> ${c.targetRelPath} (${c.winner})`).sort(),
    errors: summary.errors.map((e) => `${(e as { code?: string }).code} ${(e as { relPath?: string }).relPath ?? ""}`).sort(),
  };
}
