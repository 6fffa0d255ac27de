/**
 * A manifest belongs to one target (audit F2): one --state-dir used for two targets let its records
 * vouch for the other target's files (node 1's file never reached it, or node 2's was overwritten).
 */
import { spawnSync } from "node:child_process";
import { appendFileSync, existsSync, readFileSync, realpathSync, renameSync, unlinkSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { CLI } from "../helpers/cli.js";
import { snapshot, tempDirs, writeFile } from "./helpers.js";

const dir = tempDirs();
const JAN_2024 = 1_704_067_200;

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, "copy", ...args], { encoding: "utf8", timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Node 1's folder copied to T1 through the state dir SD; node 2's to T2 with the default state dir. */
function twoTargets(): { root: string; u1: string; t1: string; t2: string; sd: string } {
  const root = realpathSync(dir("root")); // the file naming the target holds its canonical path
  const [u1, u2, t1, t2, sd] = ["u1", "u2", "T1", "T2", "SD"].map((n) => path.join(root, n)) as [string, string, string, string, string];
  writeFile(u1, "x", "node1 AAA\n", JAN_2024);
  writeFile(u2, "x", "node2 BBB\n", JAN_2024);
  expect(run([u1, t1, "--state-dir", sd]).status).toBe(0);
  expect(run([u2, t2, "--node", "OCTO2"]).status).toBe(0);
  return { root, u1, t1, t2, sd };
}

function expectRefusedForOtherTarget(r: { status: number | null; stderr: string }, sd: string, recorded: string, asked: string): void {
  expect(r.status, r.stderr).toBe(2);
  expect(r.stderr).toContain(`'${sd}'`);
  expect(r.stderr).toContain(`belongs to the target '${recorded}', not to '${asked}'`);
  expect(r.stderr).toContain("Use one --state-dir per target");
  expect(r.stderr).toContain("Nothing was written.");
}

describe("one --state-dir used for two targets", () => {
  it("a copy into another target is refused before writing: node 1's file is not reported 'already there' in T2", () => {
    const { root, u1, t1, t2, sd } = twoTargets();
    const before = snapshot(root, []);
    const r = run([u1, t2, "--state-dir", sd, "--node", "OCTO1"]);
    expectRefusedForOtherTarget(r, sd, t1, t2);
    expect(r.stdout).not.toContain("already there");
    expect(snapshot(root, [])).toEqual(before);
  });

  it("node 1's file grown since: node 2's T2/x is neither overwritten nor quarantined", () => {
    const { root, u1, t1, t2, sd } = twoTargets();
    appendFileSync(path.join(u1, "x"), "grown\n");
    const before = snapshot(root, []);
    expectRefusedForOtherTarget(run([u1, t2, "--state-dir", sd, "--node", "OCTO1"]), sd, t1, t2);
    expect(readFileSync(path.join(t2, "x"), "utf8")).toBe("node2 BBB\n");
    expect(snapshot(root, [])).toEqual(before);
  });

  it("the state dir's own target, spelled with a trailing separator, still takes node 1's grown file", () => {
    const { u1, t1, sd } = twoTargets();
    appendFileSync(path.join(u1, "x"), "grown\n");
    const r = run([u1, `${t1}${path.sep}`, "--state-dir", sd]);
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(path.join(t1, "x"), "utf8")).toBe("node1 AAA\ngrown\n");
  });

  it("a manifest an older octoha wrote (no file naming its target) is adopted by the next copy's target; then another target is refused", () => {
    const { u1, t1, t2, sd } = twoTargets();
    unlinkSync(path.join(sd, "manifest-copy.jsonl.target"));
    expect(run([u1, t1, "--state-dir", sd]).status).toBe(0);
    expect(JSON.parse(readFileSync(path.join(sd, "manifest-copy.jsonl.target"), "utf8"))).toEqual({ v: 1, target: t1 });
    expectRefusedForOtherTarget(run([u1, t2, "--state-dir", sd]), sd, t1, t2);
  });

  it("a target moved since is refused until the file naming the old one is deleted; the default DST/.octoha moves with its target", () => {
    const { root, u1, t1, t2, sd } = twoTargets();
    const moved = path.join(root, "T1-moved");
    renameSync(t1, moved);
    const r = run([u1, moved, "--state-dir", sd]);
    expectRefusedForOtherTarget(r, sd, t1, moved);
    expect(r.stderr).toContain(`delete '${path.join(sd, "manifest-copy.jsonl.target")}'`);
    unlinkSync(path.join(sd, "manifest-copy.jsonl.target"));
    expect(run([u1, moved, "--state-dir", sd]).status).toBe(0);

    const t2Moved = path.join(root, "T2-moved");
    renameSync(t2, t2Moved);
    expect(run([path.join(root, "u2"), t2Moved, "--node", "OCTO2"]).status).toBe(0);
    expect(existsSync(path.join(t2Moved, ".octoha", "manifest-copy.jsonl.target"))).toBe(false);
  });
});

describe("a target copied into through its own manifest and through a --state-dir", () => {
  it("node 2's log of node 1's name, size and time is quarantined, not 'already there', with --verify size; the second manifest is named", () => {
    const root = realpathSync(dir("root"));
    const [n1, n2, dst, st2] = ["n1", "n2", "dst", "st2"].map((n) => path.join(root, n)) as [string, string, string, string];
    writeFile(n1, "T-1.log", "log node one\n", JAN_2024);
    writeFile(n2, "T-1.log", "log node two\n", JAN_2024);
    expect(run([n1, dst, "--node", "N1"]).status).toBe(0);
    const r = run([n2, dst, "--node", "N2", "--verify", "size", "--state-dir", st2]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("already there 0");
    expect(r.stdout).toContain("quarantined 1");
    expect(readFileSync(path.join(dst, "T-1.log"), "utf8")).toBe("log node one\n");
    expect(readFileSync(path.join(dst, ".octoha", "conflicts", "N2", "T-1.log"), "utf8")).toBe("log node two\n");
    expect(r.stdout).toContain(`warning: '${path.join(dst, ".octoha", "manifest-copy.jsonl")}' exists`);
    expect(r.stdout).toContain("Use one manifest per target");
  });
});
