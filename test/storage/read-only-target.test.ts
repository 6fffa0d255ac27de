/**
 * A target octoha may not write to: a read-only mount (EROFS), an immutable folder (chattr +i:
 * EPERM) or one the account has no rights on (EACCES). Tests may not run as root and cannot mount,
 * so the failures come from node:fs itself, as the lock code and the engine's folder making call
 * it: each is refused with the Octopus docs' wording, naming the folder, with exit 1, and leaves
 * nothing behind (before: "internal error" from the lock's mkdir, or "Could not find a part of the
 * path" because Node's recursive mkdir reports EROFS as ENOENT).
 */
import fsp from "node:fs/promises";
import { existsSync, readdirSync } from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { copyTree } from "../../src/storage/index.js";
import { cleanEnv } from "../helpers/cli.js";
import { runCliInProcess } from "../helpers/in-process-cli.js";
import { tempDirs, writeFile } from "./helpers.js";

const dir = tempDirs();

type Code = "EROFS" | "EPERM" | "EACCES";

function fsError(code: string, syscall: string, at: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: simulated by the test, ${syscall} '${at}'`), { code, syscall, path: at, errno: -1 });
}

/**
 * Runs body with node:fs/promises' `mkdir` or `open` replaced for every module (the lock code
 * imports them by name: syncBuiltinESMExports carries the change to those bindings), then restores it.
 */
async function withFsPromises<K extends "mkdir" | "open", T>(
  name: K,
  fake: (original: (typeof fsp)[K]) => (typeof fsp)[K],
  body: () => Promise<T>,
): Promise<T> {
  const original = fsp[name];
  (fsp as Record<K, unknown>)[name] = fake(original.bind(fsp) as (typeof fsp)[K]);
  syncBuiltinESMExports();
  try {
    return await body();
  } finally {
    (fsp as Record<K, unknown>)[name] = original;
    syncBuiltinESMExports();
  }
}

/** `folder` cannot be made: on a read-only mount, Node's recursive mkdir says ENOENT and a plain one EROFS. */
function refuseMkdir(folder: string, code: Code) {
  return (original: typeof fsp.mkdir): typeof fsp.mkdir =>
    (async (p: Parameters<typeof fsp.mkdir>[0], options?: Parameters<typeof fsp.mkdir>[1]) => {
      if (path.resolve(String(p)) !== folder) return original(p, options);
      const recursive = typeof options === "object" && options?.recursive === true;
      throw fsError(code === "EROFS" && recursive ? "ENOENT" : code, "mkdir", String(p));
    }) as typeof fsp.mkdir;
}

/** No file can be created in `folder` (the lock's temp file is created there, then linked into place). */
function refuseCreateIn(folder: string, code: Code) {
  return (original: typeof fsp.open): typeof fsp.open =>
    (async (p: Parameters<typeof fsp.open>[0], flags?: Parameters<typeof fsp.open>[1], mode?: Parameters<typeof fsp.open>[2]) => {
      if (path.dirname(path.resolve(String(p))) === folder && flags === "wx") throw fsError(code, "open", String(p));
      return original(p, flags, mode);
    }) as typeof fsp.open;
}

const WORDING: Record<Code, RegExp> = {
  EROFS: /is denied: it is on a read-only file system/,
  EPERM: /is denied: it is read-only or not writable for /,
  EACCES: /is denied: it is read-only or not writable for /,
};

function sourceWithOneFile(): string {
  const source = dir("source");
  writeFile(source, "TaskLogs/servertasks-1_ABC.txt", "task 1\n");
  return source;
}

describe.each(["EROFS", "EPERM", "EACCES"] as const)("a target octoha may not write to (%s)", (code) => {
  it("making its .octoha folder: 'Access to the path … is denied' naming the target, nothing written", async () => {
    const source = sourceWithOneFile();
    const target = dir("target");
    const error = await withFsPromises("mkdir", refuseMkdir(path.join(target, ".octoha"), code), () =>
      copyTree({ source, target, manifestPath: path.join(target, ".octoha", "manifest-copy.jsonl") }).catch((e: unknown) => e),
    );
    expect(error).toMatchObject({ code: "COPY_ACCESS_DENIED", exitCode: 1, path: target });
    expect((error as Error).message).toMatch(new RegExp(`^Access to the path '${target}' ${WORDING[code].source}`));
    expect((error as { hint: string }).hint).toMatch(code === "EROFS" ? /read-only.*Remount it read-write/ : /Full Control .*chattr -i/);
    expect(readdirSync(target)).toEqual([]);
  });

  it("creating its lock in .octoha: the same wording naming .octoha, and no lock or empty .octoha left", async () => {
    const source = sourceWithOneFile();
    const target = dir("target");
    const state = path.join(target, ".octoha");
    const error = await withFsPromises("open", refuseCreateIn(state, code), () =>
      copyTree({ source, target, manifestPath: path.join(state, "manifest-copy.jsonl") }).catch((e: unknown) => e),
    );
    expect(error).toMatchObject({ code: "COPY_ACCESS_DENIED", path: state });
    expect((error as Error).message).toMatch(new RegExp(`^Access to the path '${state}' ${WORDING[code].source}`));
    expect(readdirSync(target)).toEqual([]);
  });
});

describe("a target to be made inside a read-only folder", () => {
  it("says access is denied on a read-only file system, not 'Could not find a part of the path'", async () => {
    const source = sourceWithOneFile();
    const target = path.join(dir("mount"), "TaskLogs");
    const error = await withFsPromises("mkdir", refuseMkdir(target, "EROFS"), () =>
      copyTree({ source, target, manifestPath: path.join(target, ".octoha", "manifest-copy.jsonl") }).catch((e: unknown) => e),
    );
    expect(error).toMatchObject({ code: "COPY_ACCESS_DENIED" });
    expect((error as Error).message).toBe(`Access to the path '${target}' is denied: it is on a read-only file system`);
    expect(existsSync(target)).toBe(false);
  });
});

describe("octoha copy into a read-only target", () => {
  it("exits 1 with the Octopus docs' wording and what to do, not an internal error", async () => {
    const source = sourceWithOneFile();
    const target = dir("target");
    const r = await withFsPromises("mkdir", refuseMkdir(path.join(target, ".octoha"), "EROFS"), () =>
      runCliInProcess(["copy", source, target], cleanEnv()),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`octoha: Access to the path '${target}' is denied: it is on a read-only file system`);
    expect(r.stderr).toContain("Remount it read-write, or choose a target octoha may write to");
    expect(r.stderr).not.toMatch(/internal error|This is a bug/);
    expect(readdirSync(target)).toEqual([]);
  });
});
