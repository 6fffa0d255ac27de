/**
 * The node ports the stand-ins on this machine hold, in every process (test workers, `octoha standin`,
 * the demo). A stopped node lets its port go, since a stopped real node refuses connections, but a real
 * node's port stays its own while it is stopped: nothing else on the machine takes it. A stand-in
 * started meanwhile picks its nodes' ports at random and could take it: the stopped node's URL then
 * answered from another cluster (its ping said running, so a caller skipped starting it) and the node
 * could not listen again when it started (EADDRINUSE).
 *
 * So each stand-in claims its nodes' ports for its whole life: one file a port in a folder under the
 * temp folder, holding the claiming process's pid. A claim whose process is gone (killed before it
 * closed its stand-ins) is taken over.
 */
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

/** The folder of the claims: per user, as the temp folder may be shared. */
export function defaultClaimsDir(): string {
  let user: string;
  try {
    const info = os.userInfo();
    user = info.uid >= 0 ? String(info.uid) : info.username;
  } catch {
    user = "user";
  }
  return path.join(os.tmpdir(), `octoha-standin-node-ports-${user}`);
}

const code = (error: unknown) => (error as NodeJS.ErrnoException).code;

/** The pid a claim file names; NaN while it is being written, undefined once it is gone. */
function ownerOf(file: string): number | undefined {
  try {
    return Number.parseInt(readFileSync(file, "utf8"), 10);
  } catch (error) {
    if (code(error) === "ENOENT") return undefined;
    throw error;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, under another account.
    return code(error) !== "ESRCH";
  }
}

export class NodePortClaims {
  private readonly held = new Set<number>();

  constructor(private readonly dir: string = defaultClaimsDir()) {}

  /**
   * Claims `port` for this stand-in; false when a live process (this one included: another stand-in in it)
   * holds it. Where no claim can be written (a read-only temp folder) every port is free to try, as before.
   */
  claim(port: number): boolean {
    const file = this.file(port);
    for (let tries = 0; tries < 2; tries++) {
      try {
        mkdirSync(this.dir, { recursive: true });
        writeFileSync(file, `${process.pid}\n`, { flag: "wx" });
        this.held.add(port);
        return true;
      } catch (error) {
        if (code(error) !== "EEXIST") return true;
      }
      const owner = ownerOf(file);
      // Being written (NaN), or held by a live process: not this port.
      if (owner !== undefined && (Number.isNaN(owner) || alive(owner))) return false;
      // Stale: its process died holding it.
      try {
        if (owner !== undefined) unlinkSync(file);
      } catch (error) {
        if (code(error) !== "ENOENT") return false;
      }
    }
    return false;
  }

  /** Lets the port go (only this process's own claim: a stale one taken over by another process stays). */
  release(port: number): void {
    if (!this.held.delete(port)) return;
    const file = this.file(port);
    try {
      if (ownerOf(file) === process.pid) unlinkSync(file);
    } catch {
      // Already gone, or unreadable: nothing of ours left to remove.
    }
  }

  releaseAll(): void {
    for (const port of [...this.held]) this.release(port);
  }

  private file(port: number): string {
    return path.join(this.dir, String(port));
  }
}
