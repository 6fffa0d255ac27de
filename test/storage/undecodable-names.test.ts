// Linux lets a file name hold any bytes; Node reads a name that is not UTF-8 as a string with
// U+FFFD in it, which no path reaches. Such a file was skipped as if it had vanished: a silent loss.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { copyTree, nodeFileOps, type FileOps } from "../../src/storage/index.js";
import { WHOLE_FOLDER_BYTES, listWithStats, type StatDirEntry } from "../../src/storage/file-ops.js";
import { allFiles, tempDirs, writeFile } from "./helpers.js";
import { resultOf } from "../helpers/envelope.js";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const main = path.join(repo, "dist", "cli", "main.js");
const dir = tempDirs();

/** Latin-1 "é" (0xE9) is not UTF-8 on its own: one such name sorts first in its folder, one last. */
const LATIN1_NAMES = ["Deploy-r", "zz-deploy-r"].map((head) =>
  Buffer.concat([Buffer.from(head), Buffer.from([0xe9]), Buffer.from("sum.txt")]),
);
const AS_READ = ["Deploy-r\ufffdsum.txt", "zz-deploy-r\ufffdsum.txt"];

function sourceWithLatin1Names(folderFiles: number): { source: string; folder: string } {
  const source = dir("source");
  for (let i = 0; i < folderFiles; i++)
    writeFile(source, `Artifacts/Spaces-1/ServerTasks-1/artifact-${i}-of-a-deployment-with-a-long-name.txt`, `artifact ${i}\n`);
  writeFile(source, "TaskLogs/servertasks-1_A.txt", "log\n");
  const folder = path.join(source, "Artifacts", "Spaces-1", "ServerTasks-1");
  mkdirSync(folder, { recursive: true });
  for (const name of LATIN1_NAMES) writeFileSync(Buffer.concat([Buffer.from(folder + path.sep), name]), "latin-1 name\n");
  return { source, folder };
}

describe("a source file whose name is not UTF-8", () => {
  // 3: a small folder, read whole on the lstat thread. 3,000 long names: past WHOLE_FOLDER_BYTES, read
  // in batches, its first chunk's lstats through libuv (the later ones where the trial sends them).
  it.each([3, 3000])("is reported by its path with the fix, and every other file is copied (%i files beside it)", async (n) => {
    const { source, folder } = sourceWithLatin1Names(n);
    expect(statSync(folder).size > WHOLE_FOLDER_BYTES).toBe(n > 3);
    const target = dir("target");
    const summary = await copyTree({ source, target, manifestPath: path.join(target, ".octoha", "m.jsonl") });
    expect(summary.errors.map((e) => e.code)).toEqual(["COPY_NAME_NOT_UTF8", "COPY_NAME_NOT_UTF8"]);
    expect(summary.errors.map((e) => e.relPath)).toEqual(AS_READ.map((name) => `Artifacts/Spaces-1/ServerTasks-1/${name}`));
    expect(summary.errors[0]!.message).toContain(path.join(folder, AS_READ[0]!));
    expect(summary.errors[0]!.message).toMatch(/Rename it/);
    expect(summary.filesCopied).toBe(n + 1);
    const copied = allFiles(target)
      .map((f) => path.relative(target, f))
      .filter((rel) => !rel.startsWith(".octoha"));
    expect(copied).toHaveLength(n + 1);
    for (const rel of copied) expect(readFileSync(path.join(target, rel))).toEqual(readFileSync(path.join(source, rel)));
  });

  it("through a wrapped FileOps too (statVia: a counting or slowed one)", async () => {
    const { folder } = sourceWithLatin1Names(3);
    const wrapped: FileOps = { ...nodeFileOps, stat: (p) => nodeFileOps.stat(p) };
    const listed: StatDirEntry[] = [];
    for await (const chunk of listWithStats(wrapped, folder)) listed.push(...chunk);
    expect(listed.filter((e) => e.undecodable).map((e) => e.name)).toEqual(AS_READ);
    expect(listed).toHaveLength(readdirSync(folder).length);
  });

  it("`octoha copy` exits 1 and says which file and what to do; the dry-run names it too", () => {
    const { source } = sourceWithLatin1Names(3);
    const target = dir("target");
    const dry = spawnSync(process.execPath, [main, "copy", source, target, "--node", "A", "--dry-run", "--json"], { encoding: "utf8" });
    const copy = spawnSync(process.execPath, [main, "copy", source, target, "--node", "A", "--json"], { encoding: "utf8" });
    expect(copy.status).toBe(1);
    const result = resultOf<{ errors: { code: string; relPath: string }[]; filesCopied: number }>(copy.stdout, "copy", 1);
    expect(result.errors.map((e) => e.code)).toEqual(["COPY_NAME_NOT_UTF8", "COPY_NAME_NOT_UTF8"]);
    expect(result.filesCopied).toBe(4);
    expect(dry.stdout + dry.stderr).toContain("Deploy-r\ufffdsum.txt");
  });
});

/**
 * Twins: one name's bytes are valid UTF-8 with a real U+FFFD (EF BF BD), the other's Latin-1 "é"
 * (0xE9) or 0xFF, which Node also reads as U+FFFD. lstat of the string finds the valid twin for both.
 */
const REAL = Buffer.from("\ufffd");
const bytesName = (head: string, odd: Buffer, tail: string): Buffer => Buffer.concat([Buffer.from(head), odd, Buffer.from(tail)]);

function sourceWithTwins(folderFiles: number): string {
  const source = dir("source");
  for (let i = 0; i < folderFiles; i++)
    writeFile(source, `Artifacts/Spaces-1/ServerTasks-1/artifact-${i}-of-a-deployment-with-a-long-name.txt`, `artifact ${i}\n`);
  const folder = Buffer.from(path.join(source, "Artifacts", "Spaces-1", "ServerTasks-1") + path.sep);
  mkdirSync(folder, { recursive: true });
  // "Deploy-…" sorts before the artifacts (its lstat through libuv), "zz-…" after (on the lstat thread when the folder is large).
  for (const head of ["Deploy-r", "zz-deploy-r"]) {
    writeFileSync(Buffer.concat([folder, bytesName(head, REAL, "sum.txt")]), "real U+FFFD\n");
    writeFileSync(Buffer.concat([folder, bytesName(head, Buffer.from([0xe9]), "sum.txt")]), "latin-1 bytes\n");
  }
  const real = Buffer.from(path.join(source, "TaskLogs", "Logs-\ufffd"));
  const latin1 = Buffer.concat([Buffer.from(path.join(source, "TaskLogs", "Logs-")), Buffer.from([0xff])]);
  mkdirSync(real, { recursive: true });
  mkdirSync(latin1);
  writeFileSync(Buffer.concat([real, Buffer.from("/a.log")]), "real a\n");
  writeFileSync(Buffer.concat([latin1, Buffer.from("/a.log")]), "latin-1 a\n");
  writeFileSync(Buffer.concat([latin1, Buffer.from("/b.log")]), "latin-1 b\n");
  return source;
}

const TWINS = [
  "Artifacts/Spaces-1/ServerTasks-1/Deploy-r\ufffdsum.txt",
  "Artifacts/Spaces-1/ServerTasks-1/zz-deploy-r\ufffdsum.txt",
  "TaskLogs/Logs-\ufffd",
];

describe("a name that is not UTF-8 beside one it reads as (a real U+FFFD)", () => {
  it.each([3, 3000])(
    "the valid one is copied, the other (file or folder) reported, not counted as already there (%i files beside them)",
    async (n) => {
      const source = sourceWithTwins(n);
      const target = dir("target");
      const manifestPath = path.join(target, ".octoha", "m.jsonl");
      const summary = await copyTree({ source, target, manifestPath });
      expect(summary.errors.map((e) => [e.code, e.relPath])).toEqual(TWINS.map((rel) => ["COPY_NAME_NOT_UTF8", rel]));
      expect(summary.filesCopied).toBe(n + 3);
      expect(summary.filesSkipped).toBe(0);
      for (const rel of TWINS.slice(0, 2)) expect(readFileSync(path.join(target, rel), "utf8")).toBe("real U+FFFD\n");
      expect(readdirSync(path.join(target, "TaskLogs", "Logs-\ufffd"))).toEqual(["a.log"]);
      expect(readFileSync(path.join(target, "TaskLogs", "Logs-\ufffd", "a.log"), "utf8")).toBe("real a\n");
      // Run again: the Latin-1 twins are still reported, never taken for the copies of their valid twins.
      const again = await copyTree({ source, target, manifestPath });
      expect(again.errors.map((e) => [e.code, e.relPath])).toEqual(TWINS.map((rel) => ["COPY_NAME_NOT_UTF8", rel]));
      expect([again.filesCopied, again.filesSkipped]).toEqual([0, n + 3]);
    },
  );

  it("`octoha copy` exits 1 and names both twins; the Latin-1 folder's files are not merged into the valid one", () => {
    const source = sourceWithTwins(3);
    const target = dir("target");
    const copy = spawnSync(process.execPath, [main, "copy", source, target, "--node", "A", "--json"], { encoding: "utf8" });
    expect(copy.status).toBe(1);
    const result = resultOf<{ errors: { code: string; relPath: string; message: string }[] }>(copy.stdout, "copy", 1);
    expect(result.errors.map((e) => [e.code, e.relPath])).toEqual(TWINS.map((rel) => ["COPY_NAME_NOT_UTF8", rel]));
    expect(result.errors[2]!.message).toContain(`'${path.join(source, "TaskLogs", "Logs-\ufffd")}' is not valid UTF-8`);
    expect(result.errors[2]!.message).toMatch(/that one is copied and this one is not/);
    expect(allFiles(path.join(target, "TaskLogs")).map((f) => readFileSync(f, "utf8"))).toEqual(["real a\n"]);
  });
});
