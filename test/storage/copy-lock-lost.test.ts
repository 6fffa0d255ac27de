/**
 * `octoha unlock --target DST --force` while a copy into DST runs (the audit's round 4): the
 * administrator was warned, but the running copy carried on writing beside whichever copy took the
 * lock next, the very two-writers case the lock exists to prevent. The copy now stops at its next
 * heartbeat, resumable (exit 3), leaves the other holder's lock alone, and a re-run completes.
 */
import { existsSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { copyTree } from "../../src/storage/index.js";
import { targetLockFile } from "../../src/storage/target-lock.js";
import { OctohaError } from "../../src/shared/errors.js";
import { allFiles, faultyOps, snapshot, tempDirs, writeFile } from "./helpers.js";

const dir = tempDirs();

/** The lock another copy (on another machine) writes once `unlock --force` released ours. */
const anotherCopysLock = (target: string) => ({
  id: "copy-other",
  operation: "copy",
  who: "someone@elsewhere",
  host: `not-${os.hostname()}`,
  pid: 1,
  version: "0.0.0",
  created: new Date().toISOString(),
  path: target,
  heartbeat: new Date().toISOString(),
});

describe("a copy whose target lock is released under it", () => {
  it("stops (COPY_LOCK_LOST, exit 3) instead of writing beside the new holder, and a re-run completes", async () => {
    const source = dir("source");
    const target = dir("target");
    for (let i = 0; i < 300; i++) writeFile(source, `servertasks-${i}.log.txt`, `log ${i}\n`.repeat(200));
    const manifestPath = path.join(target, ".octoha", "m.jsonl");
    const lock = targetLockFile(target);
    const other = anotherCopysLock(target);
    let opened = 0;
    let taken = false;
    const ops = faultyOps({
      before: (call) => {
        if (call !== "open" || taken || ++opened < 10) return;
        // After a few files: `unlock --force`, and another copy takes the lock. Not while our heartbeat's
        // new file is being written (its temp file is there): the rename after its check would still
        // land on theirs (the instant between a read and a rename, which no file system closes).
        if (readdirSync(path.dirname(lock)).some((name) => name.startsWith(`${path.basename(lock)}.`) && name.endsWith(".tmp"))) return;
        writeFileSync(lock, JSON.stringify(other));
        taken = true;
      },
    });
    const slow = {
      ...ops,
      open: async (...args: Parameters<typeof ops.open>) => {
        await new Promise((r) => setTimeout(r, 15));
        return ops.open(...args);
      },
    };
    const failure = await copyTree({
      source,
      target,
      sourceNode: "OCTO1",
      manifestPath,
      concurrency: 1,
      ops: slow,
      lockHeartbeatMs: 50,
    }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(OctohaError);
    const error = failure as OctohaError;
    expect(error.code).toBe("COPY_LOCK_LOST");
    expect(error.exitCode).toBe(3);
    expect(error.message).toContain("someone@elsewhere");
    // It stopped well before the end, and left the new holder's lock as it found it.
    const copied = allFiles(target).filter((f) => !f.includes(".octoha"));
    expect(copied.length).toBeLessThan(300);
    expect(JSON.parse(readFileSync(lock, "utf8"))).toMatchObject({ id: "copy-other" });
    expect(allFiles(target).filter((f) => f.endsWith(".octoha-tmp"))).toEqual([]);

    // The other copy is done (its lock gone): the same command continues, and everything is there.
    unlinkSync(lock);
    const again = await copyTree({ source, target, sourceNode: "OCTO1", manifestPath });
    expect(again.errors).toEqual([]);
    const src = snapshot(source);
    const dst = snapshot(target);
    expect([...dst.keys()].sort()).toEqual([...src.keys()].sort());
    for (const [name, facts] of src) expect(dst.get(name)?.sha256, name).toBe(facts.sha256);
    expect(existsSync(lock)).toBe(false);
  }, 60_000);
  it("a lock forced away after its last heartbeat: every file written, yet exit 3 (COPY_LOCK_LOST) instead of 0, the new holder's lock kept", async () => {
    const source = dir("source");
    const target = dir("target");
    for (let i = 0; i < 8; i++) writeFile(source, `servertasks-${i}.log.txt`, `log ${i}\n`.repeat(50));
    const lock = targetLockFile(target);
    const other = anotherCopysLock(target);
    let opened = 0;
    // The last source file opened: `unlock --force` and another copy's lock, long before this copy's next heartbeat.
    const ops = faultyOps({
      before: (call, at) => void (call === "open" && at.startsWith(source) && ++opened === 8 && writeFileSync(lock, JSON.stringify(other))),
    });
    const failure = await copyTree({
      source,
      target,
      sourceNode: "OCTO1",
      manifestPath: path.join(target, ".octoha", "m.jsonl"),
      concurrency: 1,
      ops,
      lockHeartbeatMs: 60_000,
    }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toMatchObject({ code: "COPY_LOCK_LOST", exitCode: 3 });
    expect((failure as OctohaError).message).toContain("wrote every file");
    expect(snapshot(target)).toEqual(snapshot(source));
    expect(JSON.parse(readFileSync(lock, "utf8"))).toMatchObject({ id: "copy-other" });
  });
});
