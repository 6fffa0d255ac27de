// Faults come through the engine's FileOps seam: tests run as root, where chmod 000 does not stop
// a read, so "no read permission" is simulated by failing the open() of that file with EACCES.
import os from "node:os";
import path from "node:path";
import { mkdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { copyTree, nodeFileOps, preflightTarget, type FileOps } from "../../src/storage/index.js";
import { allFiles, errno, faultyOps, snapshot, tempDirs, writeFile } from "./helpers.js";

const dir = tempDirs();

function smallTree(): string {
  const source = dir("source");
  for (let i = 1; i <= 30; i++) writeFile(source, `TaskLogs/servertasks-${i}_ABCDEFGHIJ.txt`, `task ${i}\n`.repeat(200 * i));
  writeFile(source, "Packages/Spaces-1/feeds-builtin/Acme/Acme.1.0.0.zip", Buffer.alloc(3 << 20, 7));
  return source;
}

const LOCKED = "servertasks-7_ABCDEFGHIJ.txt";

describe("a source file octoha may not read", () => {
  it("is listed with its path, the account and the fix; everything else is copied; a re-run after the fix completes", async () => {
    const source = smallTree();
    const target = dir("target");
    const manifestPath = path.join(target, ".octoha", "m.jsonl");
    const ops = faultyOps({
      before: (call, p) => {
        if (call === "open" && p.endsWith(LOCKED) && p.startsWith(source)) throw errno("EACCES");
      },
    });
    const first = await copyTree({ source, target, manifestPath, ops });
    expect(first.errors).toHaveLength(1);
    const [e] = first.errors;
    expect(e!.code).toBe("COPY_SOURCE_UNREADABLE");
    expect(e!.message).toContain(path.join(source, "TaskLogs", LOCKED));
    expect(e!.message).toContain(os.userInfo().username);
    expect(e!.message).toMatch(/Grant .* read access/);
    expect(first.filesCopied).toBe(snapshot(source).size - 1);

    const opened: string[] = [];
    const second = await copyTree({
      source,
      target,
      manifestPath,
      ops: faultyOps({ before: (c, p) => void (c === "open" && opened.push(p)) }),
    });
    expect(second.errors).toEqual([]);
    expect(second.filesCopied).toBe(1);
    expect(opened.filter((p) => p.startsWith(source))).toEqual([path.join(source, "TaskLogs", LOCKED)]);
    expect(snapshot(target)).toEqual(snapshot(source));
  });
});

describe("a source folder octoha may not list", () => {
  it("is reported, the rest is copied, and the folder around it is not listed again for it", async () => {
    // The 2025.2+ layout: a folder per task inside TaskLogs. Listing the target's TaskLogs again
    // for every unreadable task folder would read a 250 000-entry folder once per such folder.
    const source = dir("source");
    for (const task of ["servertasks-1_A", "servertasks-2_B", "servertasks-3_C", "servertasks-4_D"])
      writeFile(source, `TaskLogs/${task}/0.tl.txt`, task);
    const target = dir("target");
    // Already there, so each pass lists it (a folder missing from its parent's listing is not listed).
    mkdirSync(path.join(target, "TaskLogs"));
    const unreadable = [path.join(source, "TaskLogs", "servertasks-2_B"), path.join(source, "TaskLogs", "servertasks-3_C")];
    const listed: string[] = [];
    const ops: FileOps = {
      ...nodeFileOps,
      async *list(p) {
        listed.push(p);
        if (unreadable.includes(p)) throw errno("EACCES", "scandir");
        yield* nodeFileOps.list(p);
      },
    };
    const summary = await copyTree({ source, target, ops });
    expect(summary.errors.map((e) => e.relPath).sort()).toEqual(["TaskLogs/servertasks-2_B", "TaskLogs/servertasks-3_C"]);
    expect(summary.filesCopied).toBe(2);
    expect(
      allFiles(target)
        .map((f) => path.relative(target, f).split(path.sep).join("/"))
        .filter((f) => !f.startsWith(".octoha"))
        .sort(),
    ).toEqual(["TaskLogs/servertasks-1_A/0.tl.txt", "TaskLogs/servertasks-4_D/0.tl.txt"]);
    // Once per pass (planning, copying), not once more per unreadable folder.
    expect(listed.filter((p) => p === path.join(target, "TaskLogs"))).toHaveLength(2);
  });
});

describe("a source folder the account may not list, the hint asks for read access to a folder", () => {
  const denying = (folder: string): FileOps => ({
    ...nodeFileOps,
    async *list(p) {
      if (p === folder) throw errno("EACCES", "scandir");
      yield* nodeFileOps.list(p);
    },
  });

  it("the source itself: refused, named as the source being listed, read access (not Full Control) as the fix", async () => {
    const source = smallTree();
    const target = dir("target");
    const error = await copyTree({ source, target, ops: denying(source) }).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: "COPY_ACCESS_DENIED",
      message: `Access to the path '${source}' is denied (listing the source folder as ${os.userInfo().username})`,
    });
    expect((error as { hint: string }).hint).toMatch(
      /^octoha only reads the source: grant .* read access to this folder and everything in it/,
    );
    expect((error as { hint: string }).hint).not.toContain("Full Control");
    expect(allFiles(target)).toEqual([]);
  });

  it("a folder inside it: listed as a failure whose fix speaks of a folder, not a file", async () => {
    const source = smallTree();
    const summary = await copyTree({ source, target: dir("target"), ops: denying(path.join(source, "TaskLogs")) });
    expect(summary.errors).toHaveLength(1);
    expect(summary.errors[0]).toMatchObject({ relPath: "TaskLogs", code: "COPY_SOURCE_UNREADABLE" });
    expect(summary.errors[0]!.message).toContain("read access to it (a folder: the right to list it and to read what it holds)");
    expect(summary.errors[0]!.message).not.toContain("this file");
  });
});

describe("transient and permanent storage errors", () => {
  it("an EIO while reading is retried and the file arrives intact", async () => {
    const source = smallTree();
    const target = dir("target");
    let failures = 0;
    const ops = faultyOps({
      before: (call, p) => {
        if (call === "read" && p.endsWith("Acme.1.0.0.zip") && failures < 2) {
          failures++;
          throw errno("EIO", "read");
        }
      },
    });
    const summary = await copyTree({ source, target, ops, retryBaseDelayMs: 1 });
    expect(failures).toBe(2);
    expect(summary.errors).toEqual([]);
    expect(snapshot(target)).toEqual(snapshot(source));
    expect(allFiles(target).filter((f) => f.endsWith(".octoha-tmp"))).toEqual([]);
  });

  it("an EIO that never clears stops the copy as retryable, without a partial file", async () => {
    const source = smallTree();
    const target = dir("target");
    const ops = faultyOps({
      before: (call, p) =>
        void (
          call === "write" &&
          p.includes("Acme.1.0.0.zip") &&
          (() => {
            throw errno("EIO", "write");
          })()
        ),
    });
    await expect(copyTree({ source, target, ops, retryAttempts: 3, retryBaseDelayMs: 1 })).rejects.toMatchObject({
      code: "COPY_TRANSIENT",
      behaviour: "retryable",
    });
    expect(allFiles(target).filter((f) => f.includes("Acme"))).toEqual([]);
  });

  it("a disk that fills up stops the copy with a clear message, removes the partial file and keeps verified ones", async () => {
    const source = smallTree();
    const target = dir("target");
    const manifestPath = path.join(target, ".octoha", "m.jsonl");
    let writes = 0;
    const ops = faultyOps({
      before: (call, p) => {
        // Writes into copied files (under their final names: the intent protocol), not the manifest's.
        if (call === "write" && !p.includes(`${path.sep}.octoha`) && ++writes > 10) throw errno("ENOSPC", "write");
      },
    });
    const error = await copyTree({ source, target, manifestPath, ops, concurrency: 2 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "COPY_NO_SPACE", behaviour: "fatal" });
    expect((error as Error).message).toContain("No space left on the target");
    expect(allFiles(target).filter((f) => f.endsWith(".octoha-tmp"))).toEqual([]);
    // The file being written when the disk filled was removed: only whole copies stay.
    // What was copied before the disk filled is complete and in the manifest: the re-run skips it.
    const copiedBefore = snapshot(target);
    expect(copiedBefore.size).toBeGreaterThan(0);
    for (const [rel, f] of copiedBefore) expect(f.sha256).toBe(snapshot(source).get(rel)!.sha256);
    const rerun = await copyTree({ source, target, manifestPath });
    expect(rerun.filesSkipped).toBe(copiedBefore.size);
    expect(snapshot(target)).toEqual(snapshot(source));
  });

  it("too little free space is caught before the first byte, with the sizes", async () => {
    const source = smallTree();
    const target = dir("target");
    const opened: string[] = [];
    const ops = faultyOps({ statfsFree: 1024, before: (c, p) => void (c === "open" && opened.push(p)) });
    const error = await copyTree({ source, target, ops }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "COPY_NO_SPACE" });
    expect((error as Error).message).toMatch(/free, .* to copy plus .* margin/);
    expect(opened.filter((p) => p.startsWith(source))).toEqual([]);
  });

  it("a target octoha may not write to is reported with the Octopus docs' wording, read-only or not writable, and the Full Control fix", async () => {
    const target = dir("target");
    const ops = faultyOps({
      before: (c, p) =>
        void (
          c === "open" &&
          p.includes(".octoha-probe") &&
          (() => {
            throw errno("EACCES");
          })()
        ),
    });
    const result = await preflightTarget({ target, bytesNeeded: 10, ops });
    expect(result.ok).toBe(false);
    expect(result.problems[0]!.message).toBe(
      `Access to the path '${target}' is denied: it is read-only or not writable for ${os.userInfo().username}`,
    );
    expect(result.problems[0]!.hint).toMatch(/Full Control on the share AND on the NTFS/);
  });
});

describe("interrupting a copy", () => {
  it("an abort mid-copy leaves no temp file and says it was interrupted; the re-run finishes the job", async () => {
    const source = smallTree();
    const target = dir("target");
    const manifestPath = path.join(target, ".octoha", "m.jsonl");
    const abort = new AbortController();
    let reads = 0;
    const ops = faultyOps({ before: (call) => void (call === "read" && ++reads === 8 && abort.abort()) });
    const first = await copyTree({ source, target, manifestPath, ops, signal: abort.signal, concurrency: 2 });
    expect(first.interrupted).toBe(true);
    expect(allFiles(target).filter((f) => f.endsWith(".octoha-tmp"))).toEqual([]);
    const second = await copyTree({ source, target, manifestPath });
    expect(second.filesCopied + second.filesSkipped).toBe(snapshot(source).size);
    expect(snapshot(target)).toEqual(snapshot(source));
    // One done record (with its hash) per file; the rest are write-ahead intents.
    const done = readFileSync(manifestPath, "utf8")
      .trim()
      .split("\n")
      .filter((l) => l.includes('"sha256"'));
    expect(done.length).toBe(snapshot(source).size);
  });

  it("stops planning at an interrupt, not after listing every folder, and writes nothing", async () => {
    const source = dir("source");
    for (let i = 0; i < 60; i++) writeFile(source, `Artifacts/${i}/a.txt`, `artifact ${i}\n`);
    const target = dir("target");
    const abort = new AbortController();
    let listed = 0;
    const ops: FileOps = {
      ...nodeFileOps,
      list: (p, options) => {
        if (p.startsWith(source) && ++listed === 5) abort.abort();
        return nodeFileOps.list(p, options);
      },
    };
    const result = await copyTree({ source, target, ops, signal: abort.signal });
    expect(result.interrupted).toBe(true);
    expect(result.filesCopied).toBe(0);
    expect(listed).toBeLessThan(30); // of 62 source folders (the walk lists some ahead)
    expect(allFiles(target)).toEqual([]);
  });
});
