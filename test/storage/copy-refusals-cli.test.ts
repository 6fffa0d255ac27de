/**
 * Input `octoha copy` refuses before writing anything (issue 10, items 4 and 5): a node name that
 * would lead out of the quarantine folder, and a target inside its source (or the reverse). Plus
 * the guard every write path goes through.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { copyTree } from "../../src/storage/index.js";
import { quarantinePath } from "../../src/storage/copy-file.js";
import { joinUnder } from "../../src/storage/under-root.js";
import { CLI } from "../helpers/cli.js";
import { allFiles, snapshot, tempDirs, writeFile } from "./helpers.js";

const dir = tempDirs();

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `octoha copy SRC DST <option> <value>` is a usage error: exit 2, naming the option, DST never made. Returns stderr. */
function refusedBeforeWriting(option: [string, string]): string {
  const source = dir("src");
  writeFile(source, "a.txt", "a");
  const target = path.join(dir("parent"), "dst");
  const r = run(["copy", source, target, ...option]);
  expect(r.status).toBe(2);
  expect(r.stderr).toContain(option[0]);
  expect(existsSync(target)).toBe(false);
  return r.stderr;
}

describe("--octopus-path must be the target as Octopus on Windows sees it", () => {
  it.each([[""], ["relative\\dir"], ["/mnt/octoshared/TaskLogs"], ["C:"]])(
    "--octopus-path %j is refused with exit 2, writing nothing",
    (value) => {
      expect(refusedBeforeWriting(["--octopus-path", value])).toContain("a drive path");
    },
  );

  it("without it, a path too long under any Windows folder is still reported (dry-run)", () => {
    const source = dir("op-deep");
    const deep = Array.from({ length: 18 }, (_, i) => `folder_number_${i + 1}`).join("/");
    writeFile(source, `${deep}/file.txt`, "deep");
    const r = run(["copy", source, path.join(dir("op-deep-root"), "dst"), "--dry-run", "--json"]);
    expect(r.status).toBe(0);
    const problems = (JSON.parse(r.stdout) as { result: { nameProblems: { relPath: string; problem: string; detail: string }[] } }).result
      .nameProblems;
    expect(problems).toEqual([
      expect.objectContaining({
        relPath: `${deep}/file.txt`,
        problem: "path-too-long",
        detail: expect.stringContaining("under any folder"),
      }),
    ]);
  });
});

describe("a target that is a link leading nowhere", () => {
  it("is named as a link with exit 2, and nothing is made where it leads", () => {
    const source = dir("src");
    writeFile(source, "TaskLogs/a.txt", "a");
    const parent = dir("parent");
    const target = path.join(parent, "dst");
    symlinkSync(path.join(parent, "gone"), target);
    const r = run(["copy", source, target, "--node", "OCTO1"]);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toContain(`The target '${target}' is a link (a symlink or junction) that does not lead to a folder`);
    expect(r.stderr).toContain("Give the shared folder itself as DST");
    expect(existsSync(path.join(parent, "gone"))).toBe(false);
  });
});

describe("a node name that would lead out of the quarantine folder", () => {
  it("copy --node ../../../escaped is refused with exit 2, naming the option and the rule, and writes nothing anywhere", () => {
    const root = dir("root");
    const source = path.join(root, "a", "b", "src");
    const target = path.join(root, "a", "b", "dst");
    writeFile(source, "scheduledtasks_retention.txt", "node 2's log, which would be quarantined");
    writeFile(target, "scheduledtasks_retention.txt", "what is already at the target");
    const before = allFiles(root).sort();
    const r = run(["copy", source, target, "--node", "../../../escaped"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("--node");
    expect(r.stderr).toContain("contains '/'");
    expect(r.stderr).toContain("not '.' or '..'");
    expect(allFiles(root).sort()).toEqual(before);
    expect(existsSync(path.join(root, "escaped"))).toBe(false);
  });

  it.each([["."], [".."], ["a\\b"], ["CON"], ["nul .x"], ["x".repeat(101)]])("copy --node %j is refused with exit 2", (name) => {
    refusedBeforeWriting(["--node", name]);
  });

  it("copy --node --json (the name left out) is refused with exit 2, not taken as a node named '--json'", () => {
    expect(refusedBeforeWriting(["--node", "--json"])).toContain("the node name '--json' looks like an option");
  });

  it("the engine refuses such a label too, and every quarantine path is proven to stay under its root", async () => {
    const source = dir("src");
    writeFile(source, "a.txt", "a");
    await expect(copyTree({ source, target: dir("dst"), sourceNode: "../x" })).rejects.toMatchObject({
      code: "COPY_BAD_OPTION",
      exitCode: 2,
    });
    const root = path.join(dir("t"), ".octoha", "conflicts");
    expect(() => quarantinePath(root, "../../x", "a.txt")).toThrow(/outside/);
    expect(() => quarantinePath(root, "OCTO1", "../../../a.txt")).toThrow(expect.objectContaining({ code: "COPY_PATH_ESCAPES" }));
    expect(quarantinePath(root, "OCTO1", "TaskLogs/..a.txt")).toBe(path.join(root, "OCTO1", "TaskLogs", "..a.txt"));
    expect(() => joinUnder(root, "..")).toThrow(/outside/);
  });
});

describe("a target inside its source, or a source inside its target", () => {
  const cases: [string, (src: string) => string][] = [
    ["the target is the source", (src) => src],
    ["the target is inside the source", (src) => path.join(src, "inner")],
    ["the target is deeper inside the source, not there yet", (src) => path.join(src, "TaskLogs", "new", "copy")],
    ["the source is inside the target", (src) => path.dirname(src)],
  ];
  it.each(cases)("%s: refused with exit 2 naming both paths, and nothing written into either", (_, targetOf) => {
    const parent = dir("parent");
    const source = path.join(parent, "src");
    writeFile(source, "TaskLogs/servertasks-1_A.txt", "log 1");
    writeFile(source, "TaskLogs/servertasks-2_B.txt", "log 2");
    const target = targetOf(source);
    const before = snapshot(parent, []);
    const r = run(["copy", source, target]);
    expect(r.status, r.stdout).toBe(2);
    expect(r.stderr).toContain(source);
    expect(r.stderr).toContain(target);
    expect(r.stderr).toMatch(/Choose a target outside the source/);
    expect(snapshot(parent, [])).toEqual(before);
    expect(readdirSync(source)).toEqual(["TaskLogs"]);
  });

  it("the same folder reached through a link, or spelled in another case where the file system ignores case, is refused", () => {
    const parent = dir("parent");
    const source = path.join(parent, "src");
    writeFile(source, "a.txt", "a");
    const link = path.join(parent, "link-to-src");
    symlinkSync(source, link);
    const viaLink = run(["copy", source, path.join(link, "inner")]);
    expect(viaLink.status).toBe(2);
    expect(readdirSync(source)).toEqual(["a.txt"]);
    // A bind mount or case-insensitive spelling: proven by folder identity (device and file number).
    const r = run(["copy", link, source]);
    expect(r.status).toBe(2);
  });

  it("--state-dir inside the source is refused too (the manifest would be written into the source)", () => {
    const source = dir("src");
    writeFile(source, "a.txt", "a");
    const target = dir("dst");
    const r = run(["copy", source, target, "--state-dir", path.join(source, ".state")]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("--state-dir");
    expect(readdirSync(source)).toEqual(["a.txt"]);
  });

  it("--state-dir inside the target is refused: a source file of the manifest's name would meet it (audit F6)", () => {
    const parent = dir("parent");
    const source = path.join(parent, "src");
    writeFile(source, "d/manifest-copy.jsonl", '{"hello":1}\n', 1_900_000_000);
    writeFile(source, "d/f", "x");
    const target = path.join(parent, "dst");
    const before = snapshot(parent, []);
    for (const stateDir of [path.join(target, "d"), target]) {
      const r = run(["copy", source, target, "--state-dir", stateDir, "--collision-policy", "keep-newer"]);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toContain("--state-dir");
      expect(r.stderr).toContain("inside the target");
      expect(r.stderr).toContain("a source file of the manifest's name would meet octoha's manifest");
      expect(snapshot(parent, [])).toEqual(before);
    }
    // Through a link to the target, too.
    mkdirSync(target);
    const link = path.join(parent, "link-to-dst");
    symlinkSync(target, link);
    expect(run(["copy", source, target, "--state-dir", path.join(link, "d")]).status).toBe(2);
    expect(readdirSync(target)).toEqual([]);
  });

  it("--state-dir DST/.octoha, the default the copy never writes into, is fine", () => {
    const parent = dir("parent");
    const source = path.join(parent, "src");
    writeFile(source, "d/manifest-copy.jsonl", '{"hello":1}\n');
    const target = path.join(parent, "dst");
    const r = run(["copy", source, target, "--state-dir", path.join(target, ".octoha")]);
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(path.join(target, "d", "manifest-copy.jsonl"), "utf8")).toBe('{"hello":1}\n');
    expect(readFileSync(path.join(target, ".octoha", "manifest-copy.jsonl"), "utf8")).toContain('"relPath":"d/manifest-copy.jsonl"');
  });

  it("sibling folders whose names share a prefix are fine", () => {
    const parent = dir("parent");
    mkdirSync(path.join(parent, "TaskLogs"));
    writeFile(path.join(parent, "TaskLogs"), "a.txt", "a");
    const r = run(["copy", path.join(parent, "TaskLogs"), path.join(parent, "TaskLogs-copy")]);
    expect(r.status, r.stderr).toBe(0);
  });
});

describe("a file where octoha needs a folder (the target, .octoha, .octoha/conflicts)", () => {
  it.each([
    ["the target itself", (t: string) => t],
    ["the target's .octoha", (t: string) => path.join(t, ".octoha")],
    ["the quarantine folder .octoha/conflicts", (t: string) => path.join(t, ".octoha", "conflicts")],
  ])("%s: refused with exit 1, naming that file, and the target lock is not left behind", (_label, fileAt) => {
    const source = dir("src");
    writeFile(source, "TaskLogs/a.txt", "a");
    const target = path.join(dir("parent"), "dst");
    const file = fileAt(target);
    writeFile(path.dirname(file), path.basename(file), "not octoha's\n");
    const before = allFiles(path.dirname(target)).sort();
    const r = run(["copy", source, target, "--node", "OCTO1"]);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toContain(`'${file}' is a file, not a folder`);
    expect(r.stderr).toContain("move or rename it");
    expect(r.stderr).not.toContain("internal error");
    expect(allFiles(path.dirname(target)).sort()).toEqual(before); // nothing written, no lock left
    expect(existsSync(path.join(target, "TaskLogs"))).toBe(false);
  });
});

it("a source that does not exist: bad input (exit 2), nothing made", () => {
  const missing = path.join(dir("src"), "TaskLogs");
  const target = path.join(dir("parent"), "dst");
  const r = run(["copy", missing, target, "--node", "OCTO1"]);
  expect(r.status, r.stderr).toBe(2);
  expect(r.stderr).toContain(`Could not find a part of the path '${missing}'`);
  expect(existsSync(target)).toBe(false);
});

it("a --state-dir that is a file: refused, naming it and --state-dir as what to change", () => {
  const source = dir("src");
  writeFile(source, "TaskLogs/a.txt", "a");
  const stateDir = writeFile(dir("state"), "not-a-folder", "x");
  const r = run(["copy", source, path.join(dir("parent"), "dst"), "--node", "OCTO1", "--state-dir", stateDir]);
  expect(r.status, r.stderr).toBe(1);
  expect(r.stderr).toContain(`'${stateDir}' is a file, not a folder`);
  expect(r.stderr).toContain("--state-dir");
});

it("a source that is a file: bad input (exit 2), saying the source must be a folder", () => {
  const source = dir("src");
  const file = writeFile(source, "TaskLogs/a.txt", "a");
  const target = path.join(dir("parent"), "dst");
  const r = run(["copy", file, target, "--node", "OCTO1"]);
  expect(r.status, r.stderr).toBe(2);
  expect(r.stderr).toContain(`'${file}' is a file, not a folder`);
  expect(r.stderr).toContain("The source must be a folder");
  expect(existsSync(target)).toBe(false);
});

it("a link at the target where the source has a folder: nothing is written through it, the incoming files are quarantined and the link named", () => {
  const source = dir("src");
  writeFile(source, "TaskLogs/a.txt", "a");
  const target = dir("dst");
  const elsewhere = dir("elsewhere");
  symlinkSync(elsewhere, path.join(target, "TaskLogs"));
  const r = run(["copy", source, target, "--node", "OCTO1"]);
  expect(r.status, r.stderr).toBe(0);
  expect(readdirSync(elsewhere)).toEqual([]);
  expect(r.stdout).toContain("a file or a link where the source has a folder (octoha never writes through a link)");
  expect(readFileSync(path.join(target, ".octoha", "conflicts", "OCTO1", "TaskLogs", "a.txt"), "utf8")).toBe("a");
});

describe("a link where octoha makes its own folder: never written through", () => {
  it.each([
    ["the node's quarantine folder .octoha/conflicts/N1", ["conflicts", "N1"], "keep-target"],
    ["the quarantine folder .octoha/conflicts, the target's copy losing", ["conflicts"], "keep-newer"],
  ])("%s: that file fails (exit 1) naming the link, nothing lands outside the target, both copies stay", (_label, linkAt, policy) => {
    const source = dir("src");
    writeFile(source, "x", "a\n", 1_790_000_500);
    writeFile(source, "y", "c\n");
    const target = dir("dst");
    writeFile(target, "x", "b\n");
    const elsewhere = dir("elsewhere");
    // Named like a temp file another host's octoha left long ago: the quarantine's sweep would remove it.
    const notOurs = "old.000000-1-abcd.octoha-tmp";
    writeFile(elsewhere, notOurs, "someone's\n", 1_600_000_000);
    const link = path.join(target, ".octoha", ...linkAt);
    mkdirSync(path.dirname(link), { recursive: true });
    symlinkSync(elsewhere, link);
    const r = run(["copy", source, target, "--node", "N1", "--collision-policy", policy]);
    expect(r.status, r.stderr).toBe(1);
    expect(readdirSync(elsewhere)).toEqual([notOurs]);
    expect(r.stdout).toContain(`failed x [COPY_LINK_IN_OWN_FOLDER]: '${link}' is a link`);
    expect(r.stdout).toContain("Remove the link");
    expect(readFileSync(path.join(target, "x"), "utf8")).toBe("b\n");
    expect(readFileSync(path.join(target, "y"), "utf8")).toBe("c\n"); // the rest is copied
  });

  it("a file where a quarantine sub-folder goes: that file fails (exit 1) naming it, the rest is copied, nothing overwritten", () => {
    const source = dir("src");
    writeFile(source, "a/x.txt", "incoming\n");
    writeFile(source, "b.txt", "b\n");
    const target = dir("dst");
    writeFile(target, "a/x.txt", "the target's own\n");
    const blocker = writeFile(target, ".octoha/conflicts/N1/a", "a user's file\n");
    const r = run(["copy", source, target, "--node", "N1"]);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stdout).toContain(`failed a/x.txt [COPY_PATH_NOT_FOUND]: Could not find a part of the path`);
    expect(r.stdout).toContain(`'${blocker}' is a file, not a folder`);
    expect(r.stdout).toContain("move or rename it");
    expect(readFileSync(blocker, "utf8")).toBe("a user's file\n");
    expect(readFileSync(path.join(target, "a/x.txt"), "utf8")).toBe("the target's own\n");
    expect(readFileSync(path.join(target, "b.txt"), "utf8")).toBe("b\n"); // the rest is copied
  });

  it("the manifest as a link: refused up front with exit 2, nothing appended to the file it leads to", () => {
    const source = dir("src");
    writeFile(source, "a.log", "a\n");
    const target = dir("dst");
    const victim = writeFile(dir("elsewhere"), "victim.txt", "VICTIM DATA\n");
    mkdirSync(path.join(target, ".octoha"));
    const manifest = path.join(target, ".octoha", "manifest-copy.jsonl");
    symlinkSync(victim, manifest);
    const r = run(["copy", source, target]);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toContain(`'${manifest}' is a link`);
    expect(readFileSync(victim, "utf8")).toBe("VICTIM DATA\n");
    expect(existsSync(path.join(target, "a.log"))).toBe(false);
  });

  it("the target's .octoha itself: refused up front with exit 2, the copy and its dry-run alike, writing nothing anywhere", () => {
    const source = dir("src");
    writeFile(source, "x", "a\n");
    const target = dir("dst");
    const elsewhere = dir("elsewhere");
    symlinkSync(elsewhere, path.join(target, ".octoha"));
    for (const extra of [[], ["--dry-run"]]) {
      const r = run(["copy", source, target, "--node", "N1", ...extra]);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toContain(`'${path.join(target, ".octoha")}' is a link`);
      expect(r.stderr).toContain("Nothing was written.");
      expect(readdirSync(elsewhere)).toEqual([]);
      expect(readdirSync(target)).toEqual([".octoha"]);
    }
  });
});

it.each([
  ["the manifest", "manifest-copy.jsonl", "is a folder where octoha needs a file"],
  ["the lock", "copy-lock.json", "is a folder"],
])("a folder where octoha keeps %s: refused with exit 1, naming it, never an internal error", (_label, name, says) => {
  const source = dir("src");
  writeFile(source, "TaskLogs/a.txt", "a");
  const target = dir("dst");
  const folder = path.join(target, ".octoha", name);
  mkdirSync(folder, { recursive: true });
  const r = run(["copy", source, target, "--node", "OCTO1"]);
  expect(r.status, r.stderr).toBe(1);
  expect(r.stderr).toContain(folder);
  expect(r.stderr).toContain(says);
  expect(r.stderr).not.toContain("internal error");
  expect(existsSync(path.join(target, "TaskLogs"))).toBe(false);
});
