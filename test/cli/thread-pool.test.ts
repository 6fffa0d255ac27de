/**
 * The `octoha` command (dist/cli/octoha.cjs) sizes libuv's thread pool before anything loads: large
 * when a folder the command names is on a network share (the mount table says so; a UNC path on
 * Windows), libuv's default otherwise. The share itself is never touched to decide.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { REPO } from "../helpers/cli.js";

/** Temp folders a test made, removed after it (a run of the suite left one behind each time). */
const made: string[] = [];
afterEach(() => made.splice(0).forEach((dir) => rmSync(dir, { recursive: true, force: true })));

const LAUNCHER = path.join(REPO, "dist", "cli", "octoha.cjs");
type PoolProbe = { platform: NodeJS.Platform; mountinfo: string | undefined; cwd: string; readJson: (file: string) => unknown };
const { threadPoolSizeFor } = createRequire(import.meta.url)(LAUNCHER) as {
  threadPoolSizeFor: (argv: string[], probe: PoolProbe) => number | undefined;
};

// A container's mount table: the root on overlay, a CIFS share, an NFS export, a FUSE share, lxcfs, a mount point with a space.
const MOUNTINFO = [
  "500 400 0:50 / / rw,relatime - overlay overlay rw,lowerdir=/l,upperdir=/u",
  "501 500 0:51 / /mnt/fs01 rw,relatime - cifs //fs01/OctopusShared rw,vers=3.1.1",
  "502 500 0:52 / /mnt/nfs rw,relatime - nfs4 nas:/export rw",
  "503 500 0:53 / /mnt/slow rw,relatime - fuse.slowfs slowfs rw",
  "504 500 0:54 / /proc/cpuinfo rw,relatime - fuse.lxcfs lxcfs rw",
  "505 500 0:55 / /mnt/fs01/local\\040disk rw,relatime - ext4 /dev/sdb1 rw",
  "506 500 0:56 / /srv/octopus rw,relatime - ext4 /dev/sda1 rw",
].join("\n");

const linux = (plans: Record<string, unknown> = {}): PoolProbe => ({
  platform: "linux",
  mountinfo: MOUNTINFO,
  cwd: "/srv/octopus",
  readJson: (file) => plans[file],
});

describe("the thread pool for a command line", () => {
  it("is large when `copy` reads from or writes to a CIFS, NFS or FUSE mount", () => {
    expect(threadPoolSizeFor(["copy", "/srv/octopus/TaskLogs", "/mnt/fs01/TaskLogs", "--node", "OCTO1"], linux())).toBe(64);
    expect(threadPoolSizeFor(["copy", "/mnt/nfs/OCTO2/TaskLogs", "/srv/shared"], linux())).toBe(64);
    expect(threadPoolSizeFor(["copy", "TaskLogs", "/mnt/slow/dst"], linux())).toBe(64);
  });

  it("keeps libuv's default on local disks, for lxcfs, and for a local disk mounted inside a share's folder", () => {
    expect(threadPoolSizeFor(["copy", "/srv/octopus/TaskLogs", "/srv/shared/TaskLogs", "--concurrency", "16"], linux())).toBeUndefined();
    expect(threadPoolSizeFor(["copy", "TaskLogs", "../shared"], linux())).toBeUndefined(); // relative to /srv/octopus
    expect(threadPoolSizeFor(["copy", "/proc/cpuinfo", "/srv/x"], linux())).toBeUndefined();
    expect(threadPoolSizeFor(["copy", "/srv/a", "/mnt/fs01/local disk/TaskLogs"], linux())).toBeUndefined();
    expect(threadPoolSizeFor(["copy", "/srv/a", "/mnt/fs01x"], linux())).toBeUndefined(); // not under /mnt/fs01
    expect(threadPoolSizeFor(["status"], { ...linux(), mountinfo: undefined })).toBeUndefined();
  });

  it("reads a plan file's shared, node and state folders (as octoha reaches them)", () => {
    const onShare = { shared: { taskLogs: { octopus: "\\\\fs01\\OctopusShared\\TaskLogs", access: "/mnt/fs01/TaskLogs" } } };
    const nodeOnNfs = { nodes: [{ folders: { taskLogs: { octopus: "/var/octopus/TaskLogs", access: "/mnt/nfs/octo2/TaskLogs" } } }] };
    const stateOnShare = { options: { stateDir: "/mnt/fs01/.octoha" } };
    const local = {
      shared: { taskLogs: { octopus: "/srv/shared/TaskLogs" } },
      nodes: [{ folders: { taskLogs: { octopus: "/srv/octo1" } } }],
    };
    const plans = { "a.json": onShare, "b.json": nodeOnNfs, "c.json": stateOnShare, "d.json": local };
    expect(threadPoolSizeFor(["repair", "a.json", "--yes"], linux(plans))).toBe(64);
    expect(threadPoolSizeFor(["run", "b.json"], linux(plans))).toBe(64);
    expect(threadPoolSizeFor(["dry-run", "c.json"], linux(plans))).toBe(64);
    expect(threadPoolSizeFor(["dry-run", "d.json"], linux(plans))).toBeUndefined();
    expect(threadPoolSizeFor(["dry-run", "missing.json"], linux(plans))).toBeUndefined(); // the command says what is wrong
  });

  it("on Windows, is large for a UNC path and not for a drive letter or a \\\\?\\ long path", () => {
    const windows: PoolProbe = { platform: "win32", mountinfo: undefined, cwd: "C:\\", readJson: () => undefined };
    expect(threadPoolSizeFor(["copy", "C:\\Octopus\\TaskLogs", "\\\\fs01\\OctopusShared\\TaskLogs"], windows)).toBe(64);
    expect(threadPoolSizeFor(["copy", "\\\\OCTO2\\d$\\Octopus\\TaskLogs", "D:\\Shared"], windows)).toBe(64);
    expect(threadPoolSizeFor(["copy", "C:\\Octopus\\TaskLogs", "D:\\Shared"], windows)).toBeUndefined();
    expect(threadPoolSizeFor(["copy", "\\\\?\\C:\\Octopus\\TaskLogs", "D:\\Shared"], windows)).toBeUndefined();
  });

  it("runs the command line with its exit code and output, and an operator's UV_THREADPOOL_SIZE wins", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "octoha-pool-"));
    made.push(dir);
    const plan = path.join(dir, "plan.json");
    writeFileSync(plan, "{ not json");
    const run = promisify(execFile);
    const failed = await run(process.execPath, [LAUNCHER, "check", plan, "--no-preflight"]).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect("code" in failed && failed.code).toBe(2);
    expect((failed as { stderr: string }).stderr).toContain(plan);
    // The size the launched command line sees, printed by a preload: an operator's own value is kept.
    const show = path.join(dir, "show.cjs");
    writeFileSync(show, "process.on('exit', () => process.stderr.write(`pool=${process.env.UV_THREADPOOL_SIZE}\\n`));");
    const own = await run(process.execPath, ["--require", show, LAUNCHER, "--version"], {
      env: { ...process.env, UV_THREADPOOL_SIZE: "7" },
    });
    expect(own.stderr).toContain("pool=7");
  });
});
