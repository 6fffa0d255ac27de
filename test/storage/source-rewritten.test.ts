/**
 * A source file rewritten in place while it is copied keeps its size: the byte count cannot tell,
 * and the copy held a mix of old and new bytes the source never had. The source's size and mtime
 * after the last read must still be the listed ones, on both ways a file is written (a free name
 * created exclusively, and a temp file renamed over a name that is taken).
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { copyTree } from "../../src/storage/index.js";
import { copyVerifyRename } from "../../src/storage/copy-file.js";
import { OctohaError } from "../../src/shared/errors.js";
import { faultyOps, tempDirs, writeFile } from "./helpers.js";

const dir = tempDirs();
const REL = "TaskLogs/servertasks-1_log.txt";
/** Several 1 MiB reads, so a rewrite between two of them leaves a mix. */
const SIZE = 3 * 1024 * 1024 + 5;

/** FileOps that rewrites `file` whole in place (same length, `fill` bytes) before its second read. */
function rewritingOps(file: string, fill: string): ReturnType<typeof faultyOps> {
  let reads = 0;
  return faultyOps({
    before: (call, p) => {
      if (call === "read" && p === file && ++reads === 2) writeFileSync(file, Buffer.alloc(SIZE, fill), { flag: "r+" });
    },
  });
}

describe("a source file rewritten in place (same size) while it is copied", () => {
  it("a free name: reported as COPY_SOURCE_CHANGING and nothing is left under the name", async () => {
    const source = dir("source");
    const target = dir("target");
    const file = writeFile(source, REL, Buffer.alloc(SIZE, "A"));
    const manifestPath = path.join(target, ".octoha", "manifest-copy.jsonl");

    const summary = await copyTree({ source, target, manifestPath, ops: rewritingOps(file, "B"), sourceNode: "OCTO1" });

    expect(summary.errors).toEqual([expect.objectContaining({ relPath: REL, code: "COPY_SOURCE_CHANGING" })]);
    expect(summary.filesCopied).toBe(0);
    expect(existsSync(path.join(target, ...REL.split("/")))).toBe(false);
    expect(readdirSync(path.join(target, "TaskLogs"))).toEqual([]); // no temp file either
  });

  it("replacing a taken name: the old bytes stay whole under it, no temp file is left", async () => {
    const source = dir("source");
    const target = dir("target");
    const from = writeFile(source, REL, Buffer.alloc(SIZE, "A"));
    const to = writeFile(target, REL, "the earlier copy\n");
    const listed = statSync(from);

    for (const facts of [{ size: listed.size, mtimeMs: listed.mtimeMs, atimeMs: listed.atimeMs }, undefined]) {
      writeFile(source, REL, Buffer.alloc(SIZE, "A"));
      const copying = copyVerifyRename(rewritingOps(from, "B"), from, to, undefined, false, facts);
      const error = await copying.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(OctohaError);
      expect((error as OctohaError).code).toBe("COPY_SOURCE_CHANGING");
      expect(readFileSync(to, "utf8")).toBe("the earlier copy\n");
      expect(readdirSync(path.dirname(to))).toEqual([path.basename(to)]);
    }
  });
});
