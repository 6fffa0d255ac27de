import { createHash } from "node:crypto";
import fs, {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
  utimesSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, vi } from "vitest";
import { FACTS_PER_NAME, KIND_DIR, KIND_FILE, MISSING } from "../../src/storage/stat-thread.js";
import { nodeFileOps, type FileOps, type OpenFile } from "../../src/storage/index.js";

export function tempDir(label: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), `octoha-${label}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A temp-dir maker for one test file: every dir it made is removed after each test. */
export function tempDirs(): (label: string) => string {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    while (cleanups.length) cleanups.pop()!();
  });
  return (label) => {
    const t = tempDir(label);
    cleanups.push(t.cleanup);
    return t.dir;
  };
}

export interface FileFacts {
  sha256: string;
  size: number;
  mtimeMs: number;
}

/** Every regular file under root (relative '/' paths), skipping the given top-level names. */
export function snapshot(root: string, skipTop: string[] = [".octoha"]): Map<string, FileFacts> {
  const out = new Map<string, FileFacts>();
  const walk = (rel: string): void => {
    for (const d of readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${d.name}` : d.name;
      if (!rel && skipTop.includes(d.name)) continue;
      if (d.isDirectory()) walk(r);
      else {
        const abs = path.join(root, r);
        const bytes = readFileSync(abs);
        out.set(r, { sha256: createHash("sha256").update(bytes).digest("hex"), size: bytes.length, mtimeMs: statSync(abs).mtimeMs });
      }
    }
  };
  walk("");
  return out;
}

/** All file paths under root, including our own folders (to look for stray temp files). */
export function allFiles(root: string): string[] {
  return (readdirSync(root, { recursive: true, withFileTypes: true }) as import("node:fs").Dirent[])
    .filter((d) => d.isFile())
    .map((d) => path.join(d.parentPath, d.name));
}

export function sha256Of(file: string): string {
  return createHash("sha256").update(readFileSync(file)).digest("hex");
}

export function writeFile(root: string, rel: string, content: string | Buffer, mtimeSeconds = 1_790_000_000): string {
  const abs = path.join(root, ...rel.split("/"));
  mkdirSync(path.dirname(abs), { recursive: true });
  writeFileSync(abs, content);
  utimesSync(abs, mtimeSeconds, mtimeSeconds);
  return abs;
}

export function errno(code: string, syscall = "open"): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: simulated by the test's FileOps, ${syscall}`), { code, syscall });
}

/** A FileOps seam that counts calls and lets a test fail chosen ones. */
export interface Faults {
  /** Called before every open/read/write/sync/rename; throw to fail that call. */
  before?: (call: "open" | "read" | "write" | "sync" | "rename" | "mkdir", target: string) => void;
  statfsFree?: number;
}

export function faultyOps(faults: Faults, base: FileOps = nodeFileOps): FileOps & { calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const hit = (call: "open" | "read" | "write" | "sync" | "rename" | "mkdir", target: string): void => {
    calls.set(call, (calls.get(call) ?? 0) + 1);
    faults.before?.(call, target);
  };
  const wrap = (file: OpenFile, target: string): OpenFile => ({
    ...file,
    read: async (b, o, l, p) => {
      hit("read", target);
      return file.read(b, o, l, p);
    },
    write: async (b, o, l, pos) => {
      hit("write", target);
      return file.write(b, o, l, pos);
    },
    sync: async () => {
      hit("sync", target);
      return file.sync();
    },
    stat: () => file.stat(),
    utimes: (a, m) => file.utimes(a, m),
    close: () => file.close(),
  });
  return {
    ...base,
    calls,
    open: async (p, mode) => {
      hit("open", p);
      return wrap(await base.open(p, mode), p);
    },
    rename: async (from, to) => {
      hit("rename", to);
      return base.rename(from, to);
    },
    mkdir: async (p) => {
      hit("mkdir", p);
      return base.mkdir(p);
    },
    statfs: async (p) => {
      const real = await base.statfs(p);
      return faults.statfsFree === undefined ? real : { ...real, freeBytes: faults.statfsFree };
    },
  };
}

/** This process's open descriptors of `folder` (a listing's, the lstat thread's: they are this process's). */
export function openDescriptorsOf(folder: string): number {
  return readdirSync("/proc/self/fd").filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === folder;
    } catch {
      return false; // closed while we looked
    }
  }).length;
}

/** What the lstat thread writes for `names` under `prefix` (FACTS_PER_NAME apiece): for tests' fake threads. */
export function threadFacts(prefix: string, names: readonly string[]): Float64Array {
  const facts = new Float64Array(names.length * FACTS_PER_NAME);
  names.forEach((name, i) => {
    const s = lstatSync(prefix + name, { throwIfNoEntry: false });
    const at = i * FACTS_PER_NAME;
    if (!s) facts[at] = MISSING;
    else facts.set([s.isFile() ? KIND_FILE : s.isDirectory() ? KIND_DIR : 0, s.size, s.mtimeMs, s.atimeMs], at);
  });
  return facts;
}

/** Which node:fs calls on this thread read folders during fn: fs.readdir (whole) and fs.opendir (in batches). */
export async function folderReads(fn: () => Promise<unknown>): Promise<{ whole: string[]; batched: string[] }> {
  const whole: string[] = [];
  const batched: string[] = [];
  const readdir = fs.readdir.bind(fs);
  const opendir = fs.opendir.bind(fs);
  vi.spyOn(fs, "readdir").mockImplementation(((p: string, ...rest: never[]) => {
    whole.push(p);
    return (readdir as (...a: unknown[]) => unknown)(p, ...rest);
  }) as typeof fs.readdir);
  vi.spyOn(fs, "opendir").mockImplementation(((p: string, ...rest: never[]) => {
    batched.push(p);
    return (opendir as (...a: unknown[]) => unknown)(p, ...rest);
  }) as typeof fs.opendir);
  try {
    await fn();
  } finally {
    vi.restoreAllMocks();
  }
  return { whole, batched };
}
