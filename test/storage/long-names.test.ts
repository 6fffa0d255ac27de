/**
 * Names as long as a folder entry allows (255 bytes in UTF-8 on ext4, 255 UTF-16 units on NTFS and
 * SMB): copied, updated and quarantined like any other. A temp name `<name>.<tag>.octoha-tmp` is
 * longer than its final name, so for these it is shortened (README, "`octoha copy`").
 */
import { createHash } from "node:crypto";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { copyTree } from "../../src/storage/index.js";
import { runCli } from "../helpers/cli.js";
import { allFiles, errno, faultyOps, tempDirs, writeFile } from "./helpers.js";

const dir = tempDirs();

const LONG_NAMES = {
  "251 bytes": `${"K".repeat(247)}.txt`,
  "255 bytes": `${"L".repeat(251)}.txt`,
  "'é' × 127 (254 bytes)": "é".repeat(127),
};

const temps = (root: string): string[] => allFiles(root).filter((f) => f.endsWith(".octoha-tmp"));
const read = (root: string, ...names: string[]): string => readFileSync(path.join(root, ...names), "utf8");
/** As `octoha copy` runs it: the manifest in the target's .octoha folder (what proves a grown file ours). */
const copy = (source: string, target: string, more: Partial<Parameters<typeof copyTree>[0]> = {}) =>
  copyTree({ source, target, sourceNode: "N1", manifestPath: path.join(target, ".octoha", "manifest-copy.jsonl"), ...more });

describe.each(Object.entries(LONG_NAMES))("a file name of %s", (_, name) => {
  it("is copied, and updated once its source has grown", async () => {
    const source = dir("source");
    const target = dir("target");
    writeFile(source, name, "one\n", 1_790_000_000);
    const first = await copy(source, target);
    expect(first.errors).toEqual([]);
    expect(read(target, name)).toBe("one\n");

    writeFile(source, name, "one\ntwo\n", 1_790_000_100);
    const second = await copy(source, target);
    expect(second.errors).toEqual([]);
    expect(second.collisions).toEqual([]);
    expect(read(target, name)).toBe("one\ntwo\n");
    expect(temps(target)).toEqual([]);
  });

  it("keep-target: the incoming copy is quarantined and the target's stays", async () => {
    const source = dir("source");
    const target = dir("target");
    writeFile(source, name, "incoming", 1_790_000_100);
    writeFile(target, name, "already there", 1_790_000_000);
    const summary = await copy(source, target);
    expect(summary.errors).toEqual([]);
    expect(summary.collisions).toHaveLength(1);
    expect(read(target, name)).toBe("already there");
    expect(read(target, ".octoha", "conflicts", "N1", name)).toBe("incoming");
    expect(temps(target)).toEqual([]);
  });

  it("keep-newer: the target's older copy is quarantined and the incoming one replaces it", async () => {
    const source = dir("source");
    const target = dir("target");
    writeFile(source, name, "incoming, newer", 1_790_000_100);
    writeFile(target, name, "already there", 1_790_000_000);
    const summary = await copy(source, target, { collisionPolicy: "keep-newer" });
    expect(summary.errors).toEqual([]);
    expect(summary.collisions).toHaveLength(1);
    expect(read(target, name)).toBe("incoming, newer");
    expect(read(target, ".octoha", "conflicts", "existing-target", name)).toBe("already there");
    expect(temps(target)).toEqual([]);
  });
});

describe("long names, the rest of the copy", () => {
  const name = LONG_NAMES["255 bytes"];

  it("a second quarantined copy with other bytes gets a numbered name that fits, beside the first", async () => {
    const source = dir("source");
    const target = dir("target");
    writeFile(target, name, "already there");
    writeFile(source, name, "first incoming");
    await copy(source, target);
    writeFile(source, name, "second incoming, other bytes");
    const summary = await copy(source, target);
    expect(summary.errors).toEqual([]);
    const quarantine = path.join(target, ".octoha", "conflicts", "N1");
    const kept = readdirSync(quarantine).sort();
    expect(kept).toHaveLength(2);
    expect(kept.map((n) => Buffer.byteLength(n) <= 255)).toEqual([true, true]);
    expect(kept.map((n) => read(quarantine, n)).sort()).toEqual(["first incoming", "second incoming, other bytes"]);
    expect(read(target, name)).toBe("already there");
  });

  it("a shortened temp file left by a dead writer is removed; a live process's is left alone", async () => {
    const source = dir("source");
    const target = dir("target");
    writeFile(source, name, "one\n", 1_790_000_000);
    await copy(source, target);
    // What another process on this host leaves for this name: a prefix, `~` and a hash, its tag.
    const host = createHash("sha256").update(os.hostname().toLowerCase()).digest("hex").slice(0, 6);
    const tempOf = (pid: number) => `${"L".repeat(214)}~0badf00d.${host}-${pid.toString(36)}-abcd.octoha-tmp`;
    const dead = tempOf(spawnSync(process.execPath, ["-e", ""]).pid!);
    const live = tempOf(process.pid);
    for (const temp of [dead, live]) writeFileSync(path.join(target, temp), "partial");

    writeFile(source, name, "one\ntwo\n", 1_790_000_100);
    const summary = await copy(source, target);
    expect(summary.errors).toEqual([]);
    expect(read(target, name)).toBe("one\ntwo\n");
    expect(temps(target).map((f) => path.basename(f))).toEqual([live]);
  });

  it("`octoha copy` updates a grown long-named file and copies the files after it (the audit's repro)", async () => {
    const source = dir("source");
    const target = dir("target");
    writeFile(source, name, "one\n");
    for (let i = 1; i <= 30; i++) writeFile(source, `z${i}.txt`, `${i}\n`);
    expect((await runCli(["copy", source, target, "--node", "N1"])).code).toBe(0);
    writeFile(source, name, "one\ntwo\n", 1_790_000_100);
    for (let i = 31; i <= 60; i++) writeFile(source, `z${i}.txt`, `${i}\n`);
    const r = await runCli(["copy", source, target, "--node", "N1", "--concurrency", "1"]);
    expect(r.code, r.stderr).toBe(0);
    expect(read(target, name)).toBe("one\ntwo\n");
    expect(readdirSync(target).filter((n) => n !== ".octoha")).toHaveLength(61);
    expect(temps(target)).toEqual([]);
  });

  it("a name the target refuses as too long fails that file only, and says to rename it, not to shorten the root", async () => {
    const source = dir("source");
    const target = dir("target");
    const refused = `${"R".repeat(140)}.txt`; // as an eCryptfs target (143 bytes a name) refuses it
    writeFile(source, refused, "too long there");
    for (let i = 1; i <= 5; i++) writeFile(source, `z${i}.txt`, `${i}\n`);
    const ops = faultyOps({
      before: (call, p) => {
        if (call === "open" && p.startsWith(target) && path.basename(p).startsWith("R")) throw errno("ENAMETOOLONG");
      },
    });
    const summary = await copy(source, target, { ops, concurrency: 1 });
    expect(summary.filesCopied).toBe(5);
    expect(summary.errors).toHaveLength(1);
    const [e] = summary.errors;
    expect(e!.relPath).toBe(refused);
    expect(e!.code).toBe("COPY_NAME_TOO_LONG");
    expect(e!.message).toContain(`The name '${refused}' in '${path.join(target, refused)}' is too long for the file system`);
    expect(e!.message).toContain("Rename the file or folder on the node");
    expect(e!.message).not.toContain("Use a shorter target root");
  });
});
