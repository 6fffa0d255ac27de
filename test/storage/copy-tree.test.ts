import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync, statSync, utimesSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { makeHome } from "../../bench/make-home.mjs";
import { copyTree, type CopyProgress } from "../../src/storage/index.js";
import { nodeFileOps, type FileOps } from "../../src/storage/file-ops.js";
import { manifestSourcesFile } from "../../src/storage/manifest-sources.js";
import { snapshotPathOf } from "../../src/storage/manifest-snapshot.js";
import { allFiles, tempDir, faultyOps, snapshot, tempDirs, writeFile } from "./helpers.js";

const dir = tempDirs();

/** Every folder under root, root included (absolute paths, as the engine lists them). */
function allFolders(root: string): string[] {
  const out = [root];
  for (const name of readdirSync(root)) if (statSync(path.join(root, name)).isDirectory()) out.push(...allFolders(path.join(root, name)));
  return out;
}

let home: string;
let homeCleanup: () => void;
beforeAll(() => {
  const t = tempDir("home");
  home = t.dir;
  homeCleanup = t.cleanup;
  makeHome({ out: home, preset: "tiny", layout: "flat", node: 1 });
  makeHome({ out: path.join(home, "dirs"), preset: "tiny", layout: "dirs", node: 2 });
  return () => homeCleanup();
});

describe("copyTree on a node folder", () => {
  it("leaves a byte-identical tree with the source's modification times at the target", async () => {
    const target = dir("target");
    const summary = await copyTree({ source: home, target, sourceNode: "OCTO1", manifestPath: path.join(target, ".octoha", "m.jsonl") });
    const src = snapshot(home);
    const dst = snapshot(target);
    expect([...dst.keys()].sort()).toEqual([...src.keys()].sort());
    for (const [rel, facts] of src) {
      expect(dst.get(rel)!.sha256, rel).toBe(facts.sha256);
      expect(Math.abs(dst.get(rel)!.mtimeMs - facts.mtimeMs), rel).toBeLessThan(1);
    }
    expect(summary.filesCopied).toBe(src.size);
    expect(summary.collisions).toEqual([]);
    expect(summary.errors).toEqual([]);
    expect(allFiles(target).filter((f) => f.endsWith(".octoha-tmp"))).toEqual([]);
  });

  it("writes one manifest record per copied file, with the hash of the bytes at the target", async () => {
    const target = dir("target");
    const manifestPath = path.join(target, ".octoha", "m.jsonl");
    await copyTree({ source: path.join(home, "Artifacts"), target, sourceNode: "OCTO1", manifestPath });
    const lines = readFileSync(manifestPath, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { relPath: string; sha256: string; node: string; v: number; src: string; intent?: string });
    const records = lines.filter((r) => r.intent === undefined);
    const dst = snapshot(target);
    expect(records).toHaveLength(dst.size);
    // Each done record follows the file's write-ahead intent (same path and origin), committed before the file was created.
    for (const r of records) {
      const intent = lines.findIndex((i) => i.intent === "open" && i.relPath === r.relPath && i.src === r.src);
      expect(intent, r.relPath).toBeGreaterThanOrEqual(0);
      expect(intent, r.relPath).toBeLessThan(lines.indexOf(r));
    }
    for (const r of records) {
      expect(r.v).toBe(2);
      expect(r.node).toBe("OCTO1");
      expect(r.sha256).toBe(dst.get(r.relPath)!.sha256);
      expect(r.src).toMatch(/^[0-9a-f]{16}$/); // which source file wrote it
    }
    expect(new Set(records.map((r) => r.src)).size).toBe(records.length);
  });

  it("a re-run over a complete target opens no file but the manifest and its index snapshot, and copies nothing", async () => {
    const target = dir("target");
    const manifestPath = path.join(target, ".octoha", "m.jsonl");
    await copyTree({ source: home, target, manifestPath });
    expect(existsSync(snapshotPathOf(manifestPath))).toBe(true); // left by the first run for the next
    const opened: string[] = [];
    const ops = faultyOps({ before: (call, p) => void (call === "open" && opened.push(p)) });
    const again = await copyTree({ source: home, target, manifestPath, ops });
    expect(again.filesCopied).toBe(0);
    expect(again.filesSkipped).toBe(snapshot(home).size);
    // The snapshot was current: not rewritten. The sources file (birth times) is read once, where the file system keeps them.
    const sources = manifestSourcesFile(manifestPath);
    expect(opened.filter((p) => p !== sources)).toEqual([manifestPath, snapshotPathOf(manifestPath)]);
    expect(opened.filter((p) => p === sources).length).toBeLessThanOrEqual(1);
  });

  it("without a manifest, a re-run proves equality by hash and still copies nothing", async () => {
    const target = dir("target");
    const source = path.join(home, "TaskLogs");
    await copyTree({ source, target });
    const ops = faultyOps({});
    const again = await copyTree({ source, target, ops });
    expect(again.filesCopied).toBe(0);
    expect(again.filesSkipped).toBe(snapshot(source).size);
    expect(ops.calls.get("rename") ?? 0).toBe(0);
  });

  it("copies only the files that changed or appeared since the last run (delta after a preseed)", async () => {
    const source = dir("source");
    for (let i = 0; i < 20; i++) writeFileSync(path.join(source, `servertasks-${i}_ABCDEFGHIJ.txt`), `log ${i}\n`);
    const target = dir("target");
    const manifestPath = path.join(target, ".octoha", "m.jsonl");
    await copyTree({ source, target, manifestPath });
    writeFileSync(path.join(source, "servertasks-99_NEWTASK001.txt"), "new log\n");
    const progress: number[] = [];
    const planning: CopyProgress[] = [];
    const delta = await copyTree({
      source,
      target,
      manifestPath,
      onProgress: (p) => (p.phase === "planning" ? planning.push(p) : progress.push(p.filesTotal)),
    });
    expect(delta.filesCopied).toBe(1);
    expect(delta.filesPlanned).toBe(1);
    expect(new Set(progress)).toEqual(new Set([1]));
    // While planning: the 21 files looked at, the one to copy among them.
    expect(planning.at(-1)).toMatchObject({ filesDone: 21, filesToCopy: 1, bytesToCopy: "new log\n".length, filesTotal: 0 });
    expect(readFileSync(path.join(target, "servertasks-99_NEWTASK001.txt"), "utf8")).toBe("new log\n");
  });

  it("dry-run reports what would be copied and writes nothing, not even the target folder", async () => {
    const parent = dir("target");
    const target = path.join(parent, "TaskLogs");
    const summary = await copyTree({ source: home, target, dryRun: true, manifestPath: path.join(target, ".octoha", "m.jsonl") });
    expect(summary.filesCopied).toBe(snapshot(home).size);
    expect(summary.bytesCopied).toBeGreaterThan(0);
    expect(existsSync(target)).toBe(false);
    expect(readdirSync(parent)).toEqual([]);
  });

  it("dry-run lists each folder once and stats no file: one pass, not a planning pass and a copy pass", async () => {
    const target = dir("target");
    await copyTree({ source: path.join(home, "Packages"), target: path.join(target, "Packages") });
    const listed = new Map<string, number>();
    const stats: string[] = [];
    const ops: FileOps = {
      ...nodeFileOps,
      list: (p) => {
        listed.set(p, (listed.get(p) ?? 0) + 1);
        return nodeFileOps.list(p);
      },
      stat: (p) => {
        stats.push(p);
        return nodeFileOps.stat(p);
      },
    };
    const summary = await copyTree({ source: home, target, dryRun: true, ops });
    const files = snapshot(home).size;
    expect(summary.filesCopied + summary.filesSkipped).toBe(files);
    expect(summary.filesPlanned).toBeGreaterThanOrEqual(summary.filesCopied);
    const folders = allFolders(home);
    for (const f of folders) expect(listed.get(f), f).toBe(1);
    for (const [p, n] of listed) expect(n, p).toBe(1);
    // The roots only (overlap check, source identity, free-space check), and the target's .octoha (a link there is
    // refused), never a file or folder under them.
    const underRoots = stats.filter((p) => p.startsWith(home + path.sep) || p.startsWith(target + path.sep));
    expect(underRoots).toEqual([path.join(target, ".octoha")]);
    expect(files).toBeGreaterThan(50);
  });

  it("dry-run over a partly filled target touches no file there", async () => {
    const target = dir("target");
    await copyTree({ source: path.join(home, "Packages"), target: path.join(target, "Packages") });
    const before = snapshot(target, []);
    const summary = await copyTree({ source: home, target, dryRun: true });
    expect(snapshot(target, [])).toEqual(before);
    expect(summary.filesSkipped).toBe(snapshot(path.join(home, "Packages")).size);
  });

  it("names each source file and folder named like a temp file as not copied, and why, and copies the rest (dry-run too)", async () => {
    const source = dir("source");
    writeFile(source, "a.txt", "a");
    writeFile(source, "d/r.octoha-tmp", "a user's file");
    writeFile(source, "d/keep.octoha-tmp/a.log", "in a user's folder");
    writeFile(source, "d/f", "f");
    const reported = (root: string) => [
      {
        relPath: "d/keep.octoha-tmp",
        code: "COPY_TEMP_NAME",
        message: `'${path.join(root, "d", "keep.octoha-tmp")}' is a folder whose name ends in .octoha-tmp: it and everything in it were not copied\n  octoha's temp files end so, and at the target it would look like one; rename it on the node and run the copy again.`,
      },
      {
        relPath: "d/r.octoha-tmp",
        code: "COPY_TEMP_NAME",
        message: `'${path.join(root, "d", "r.octoha-tmp")}' is a file whose name ends in .octoha-tmp: it was not copied\n  octoha's temp files end so, and at the target it would look like one; rename it on the node and run the copy again.`,
      },
    ];
    const byPath = (errors: readonly object[]) => [...errors].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    const target = dir("target");
    const dry = await copyTree({ source, target, dryRun: true });
    expect(byPath(dry.errors)).toEqual(reported(source));
    expect(dry.filesCopied).toBe(2);
    const summary = await copyTree({ source, target });
    expect(byPath(summary.errors)).toEqual(reported(source));
    expect(summary.filesCopied).toBe(2);
    expect([...snapshot(target).keys()].sort()).toEqual(["a.txt", "d/f"]);
  });

  it("removes a dead writer's temp file but never a target file named like one without octoha's tag", async () => {
    const source = dir("source");
    writeFile(source, "a.txt", "a");
    const target = dir("target");
    const host = createHash("sha256").update(os.hostname().toLowerCase()).digest("hex").slice(0, 6);
    const deadPid = spawnSync(process.execPath, ["-e", ""]).pid!;
    writeFile(target, `a.txt.${host}-${deadPid.toString(36)}-abcd.octoha-tmp`, "partial");
    writeFile(target, "mine.octoha-tmp", "precious");
    writeFile(target, "d/mine.octoha-tmp", "precious too");
    writeFile(source, "d/g", "g"); // makes the copy list the target's d/
    const summary = await copyTree({ source, target });
    expect(summary.errors).toEqual([]);
    expect(readdirSync(target).sort()).toEqual(["a.txt", "d", "mine.octoha-tmp"]);
    expect(readFileSync(path.join(target, "mine.octoha-tmp"), "utf8")).toBe("precious");
    expect(readFileSync(path.join(target, "d", "mine.octoha-tmp"), "utf8")).toBe("precious too");
  });

  it("leaves the source's .octoha out in any case, saying so once per folder and why; one deeper down is copied", async () => {
    const source = dir("source");
    writeFile(source, "a.txt", "a");
    writeFile(source, ".octoha/conflicts/OCTO2/x.txt", "the only copy of OCTO2's losing file");
    writeFile(source, ".OCTOHA/manifest-copy.jsonl", "another copy's manifest, in another case");
    writeFile(source, "TaskLogs/.octoha/y.txt", "not at the root: an ordinary folder");
    const expected = (root: string): string[] => [
      `'${path.join(root, ".OCTOHA")}' is not copied: on a Windows share it is the same folder as the target's .octoha, octoha's state folder (manifest, lock, quarantine). Rename it to copy it with the rest, or copy it on its own into another target.`,
      `'${path.join(root, ".octoha")}' is an octoha state folder (a copy's manifest and quarantine): not copied. To copy quarantined files, copy that folder on its own into another target.`,
    ];
    const dry = await copyTree({ source, target: path.join(dir("parent"), "TaskLogs"), dryRun: true });
    expect(dry.filesCopied).toBe(2);
    expect([...(dry.warnings ?? [])].sort()).toEqual(expected(source));

    const target = dir("target");
    const summary = await copyTree({ source, target, manifestPath: path.join(target, ".octoha", "m.jsonl") });
    expect(summary.filesCopied).toBe(2);
    expect([...(summary.warnings ?? [])].sort()).toEqual(expected(source)); // the plan and the copy pass list the root: said once
    expect([...snapshot(target).keys()].sort()).toEqual(["TaskLogs/.octoha/y.txt", "a.txt"]);
    expect(readdirSync(target).sort()).toEqual([".octoha", "TaskLogs", "a.txt"]);
    expect(
      readdirSync(path.join(target, ".octoha"))
        .filter((n) => n !== "m.jsonl.sources") // where the file system keeps birth times
        .sort(),
    ).toEqual(["m.jsonl", "m.jsonl.index"]);
  });

  it("keeps a source time before 1970 (Node takes a negative time as now), so a re-run skips the file", async () => {
    const source = dir("source");
    const file = writeFile(source, "old.log", "from 1960\n");
    utimesSync(file, new Date("1960-01-01T00:00:00Z"), new Date("1960-01-01T00:00:00Z"));
    const target = dir("target");
    await copyTree({ source, target, manifestPath: path.join(target, ".octoha", "m.jsonl") });
    expect(statSync(path.join(target, "old.log")).mtime.toISOString()).toBe("1960-01-01T00:00:00.000Z");
    const again = await copyTree({ source, target, manifestPath: path.join(target, ".octoha", "m.jsonl") });
    expect([again.filesCopied, again.filesSkipped]).toEqual([0, 1]);
  });

  it("a file named .Octoha at the source's root is the user's, not a state folder: not copied, and a failure naming it, not a warning", async () => {
    const source = dir("source");
    writeFile(source, "a.txt", "a");
    writeFile(source, ".Octoha", "a user's notes");
    const dry = await copyTree({ source, target: dir("dry-target"), dryRun: true });
    expect(dry.errors.map((e) => [e.relPath, e.code])).toEqual([[".Octoha", "COPY_STATE_NAME"]]);
    const target = dir("target");
    const summary = await copyTree({ source, target });
    expect(summary.warnings ?? []).toEqual([]);
    expect(summary.errors.map((e) => [e.relPath, e.code])).toEqual([[".Octoha", "COPY_STATE_NAME"]]);
    expect(summary.errors[0]!.message).toContain(`'${path.join(source, ".Octoha")}' is a file named like octoha's state folder`);
    expect(summary.errors[0]!.message).toContain("rename it on the node");
    expect([...snapshot(target).keys()]).toEqual(["a.txt"]);
  });

  it("a missing source folder stops with the Octopus docs' wording and the fix", async () => {
    const target = dir("target");
    await expect(copyTree({ source: path.join(target, "nope"), target })).rejects.toMatchObject({
      code: "COPY_PATH_NOT_FOUND",
      message: expect.stringContaining("Could not find a part of the path"),
      hint: expect.stringContaining("UNC path"),
    });
  });

  it("an equal-size file with another mtime and other bytes is never overwritten", async () => {
    const source = dir("source");
    const target = dir("target");
    writeFileSync(path.join(source, "x.txt"), "AAAA");
    writeFileSync(path.join(target, "x.txt"), "BBBB");
    utimesSync(path.join(target, "x.txt"), 1_700_000_000, 1_700_000_000);
    const summary = await copyTree({ source, target, verify: "size", sourceNode: "n1" });
    expect(readFileSync(path.join(target, "x.txt"), "utf8")).toBe("BBBB");
    expect(summary.collisions).toHaveLength(1);
  });
});
