#!/usr/bin/env node
/**
 * The `octoha` command: sizes libuv's thread pool, then loads the command line (main.js).
 *
 * Every fs call runs on that pool, and its size is fixed when it is first used: loading an ES
 * module already uses it, which is why this entry is CommonJS (read with synchronous calls).
 * - On a network share every call holds a thread for a round trip, so the pool decides how many
 *   are in flight: 4 threads held a 5,524-file no-op on the simulated share (500 µs) to 1.19 s,
 *   64 threads took it to 0.57 s.
 * - On a local disk a large pool costs CPU on every call (idle threads are woken one per call):
 *   a 200,000-file no-op on tmpfs took 2.1 s with 4 threads and 5.6 s with 64.
 * So the pool is large only when a folder the command names is on a network file system, read
 * from the path alone (the mount table; a UNC path on Windows), never by touching the share,
 * which could hang before octoha has said a word. An operator's own UV_THREADPOOL_SIZE wins.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

/** Threads for a command that reaches a network share (calls in flight: listings, copies, checks). */
const SHARE_POOL_SIZE = 64;

/** File systems whose every call is a network round trip (or one through a user-space daemon). */
const NETWORK_TYPES = /^(cifs|smb3?|smbfs|nfs4?|9p|ceph|glusterfs|lustre|afs|ncpfs|davfs|fuse\.(?!lxcfs$).+)$/;

interface Mount {
  point: string;
  type: string;
}

/** /proc/self/mountinfo: each line's mount point (field 5, octal escapes) and the type after " - ". */
function parseMountinfo(text: string): Mount[] {
  const mounts: Mount[] = [];
  for (const line of text.split("\n")) {
    const [left, right] = line.split(" - ");
    const point = left?.split(" ")[4];
    const type = right?.split(" ")[0];
    if (point && type) mounts.push({ point: point.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))), type });
  }
  return mounts;
}

export interface PoolProbe {
  platform: NodeJS.Platform;
  /** /proc/self/mountinfo's text (Linux), undefined where there is none. */
  mountinfo: string | undefined;
  cwd: string;
  /** A plan file's parsed JSON, undefined when the token is not a readable JSON file. */
  readJson: (file: string) => unknown;
}

/** True when the path (not touched: only its spelling and the mount table) is on a network file system. */
export function onNetwork(p: string, probe: PoolProbe, mounts: Mount[]): boolean {
  if (probe.platform === "win32") return /^[\\/]{2}[^\\/?.]/.test(p); // \\server\share (not \\?\ or \\.\)
  if (!p.startsWith("/") && /^[\\/]{2}/.test(p)) return false; // a Windows path in a plan read on Linux
  const abs = path.posix.resolve(probe.cwd, p);
  let best: Mount | undefined;
  for (const m of mounts) {
    const under = m.point === "/" || abs === m.point || abs.startsWith(m.point + "/");
    if (under && (!best || m.point.length >= best.point.length)) best = m;
  }
  return best !== undefined && NETWORK_TYPES.test(best.type);
}

/**
 * The folders a plan names: the shared ones, each node's, and the state folder (as octoha reaches them).
 * Read by hand, not through src/plan: that is ES modules, and loading them would start the pool. An
 * unreadable or invalid plan simply asks for nothing; the command then says what is wrong with it.
 */
function planFolders(plan: unknown): string[] {
  const found: string[] = [];
  const folder = (f: unknown) => {
    if (typeof f !== "object" || f === null) return;
    const { access, octopus } = f as { access?: unknown; octopus?: unknown };
    const where = typeof access === "string" ? access : octopus;
    if (typeof where === "string") found.push(where);
  };
  const p = (typeof plan === "object" && plan !== null ? plan : {}) as {
    shared?: Record<string, unknown>;
    nodes?: { folders?: Record<string, unknown> }[];
    options?: { stateDir?: unknown };
  };
  for (const f of Object.values(p.shared ?? {})) folder(f);
  for (const n of Array.isArray(p.nodes) ? p.nodes : []) for (const f of Object.values(n?.folders ?? {})) folder(f);
  if (typeof p.options?.stateDir === "string") found.push(p.options.stateDir);
  return found;
}

/**
 * The pool size for this command line, or undefined to keep libuv's default (4): SHARE_POOL_SIZE
 * when a folder it names (an argument, or a folder in a plan file it names) is on a network share.
 */
export function threadPoolSizeFor(argv: readonly string[], probe: PoolProbe): number | undefined {
  const mounts = probe.mountinfo === undefined ? [] : parseMountinfo(probe.mountinfo);
  const paths: string[] = [];
  for (const arg of argv) {
    if (arg.startsWith("-")) continue;
    paths.push(arg);
    if (arg.toLowerCase().endsWith(".json")) paths.push(...planFolders(probe.readJson(arg)));
  }
  return paths.some((p) => onNetwork(p, probe, mounts)) ? SHARE_POOL_SIZE : undefined;
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch {
    return undefined; // not a plan: the command itself says what is wrong with it
  }
}

if (require.main === module) {
  if (process.env.UV_THREADPOOL_SIZE === undefined) {
    const mountinfo =
      process.platform === "linux" && existsSync("/proc/self/mountinfo") ? readFileSync("/proc/self/mountinfo", "utf8") : undefined;
    const size = threadPoolSizeFor(process.argv.slice(2), { platform: process.platform, mountinfo, cwd: process.cwd(), readJson });
    if (size !== undefined) process.env.UV_THREADPOOL_SIZE = String(size);
  }
  import("./main.js").catch((error: unknown) => {
    process.stderr.write(`octoha: could not start: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
