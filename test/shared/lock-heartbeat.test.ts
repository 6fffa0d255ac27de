/**
 * A holder's heartbeat rewrites its lock file. Someone may take the lock meanwhile (`octoha unlock
 * --force`, then another copy): the heartbeat must then report the lock lost, never write ours over
 * theirs (two copies then wrote one target; a CI run caught it as a flaky copy-lock-lost test).
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { tempDirs } from "../storage/helpers.js";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const dir = tempDirs();

describe("a lock's heartbeat", () => {
  it("another holder's lock written while the heartbeat's new file is written and fsync'd: reported lost, theirs kept", () => {
    const file = path.join(dir("state"), "copy-lock.json");
    const lock = path.join(repo, "dist", "shared", "lock.js");
    const other = {
      id: "copy-other",
      operation: "copy",
      who: "someone@elsewhere",
      host: "elsewhere",
      pid: 1,
      version: "0",
      created: new Date().toISOString(),
      path: ".",
      heartbeat: new Date().toISOString(),
    };
    // The child's fsync of the heartbeat's temp file is where the other copy takes the lock.
    const script = `
      import fsp from "node:fs/promises";
      import { writeFileSync } from "node:fs";
      import { syncBuiltinESMExports } from "node:module";
      const file = ${JSON.stringify(file)};
      let armed = false;
      const open = fsp.open;
      fsp.open = async (at, ...rest) => {
        const handle = await open(at, ...rest);
        if (armed && String(at).startsWith(file + ".") && String(at).endsWith(".tmp")) {
          armed = false;
          const sync = handle.sync.bind(handle);
          handle.sync = async () => { writeFileSync(file, ${JSON.stringify(JSON.stringify(other))}); return sync(); };
        }
        return handle;
      };
      syncBuiltinESMExports();
      const { acquireLockFile, readLockFile } = await import(${JSON.stringify(lock)});
      let lost = "no";
      const held = await acquireLockFile({ file, holder: { id: "ours", operation: "copy", version: "0", path: "." },
        mayTakeOver: () => false, refuse: () => new Error("refused"), heartbeatMs: 50, onLost: (now) => (lost = now?.id ?? "none") });
      armed = true;
      await new Promise((resolve) => setTimeout(resolve, 500));
      const now = (await readLockFile(file))?.id;
      await held.release();
      process.stdout.write(JSON.stringify({ lost, now, after: (await readLockFile(file))?.id }));`;
    const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
    expect(child.status, child.stderr).toBe(0);
    expect(JSON.parse(child.stdout)).toEqual({ lost: "copy-other", now: "copy-other", after: "copy-other" });
  });
});
