/**
 * A short measured copy for the dry-run's window estimate: copy up to maxBytes of real source files
 * into a scratch folder (created and removed here), time it, and extrapolate. Each file goes the way
 * a real copy writes a free name: a group-committed intent in a scratch manifest, then the final
 * name created exclusively (no temp name, no rename), so a share's costs are the copy's.
 */
import { promises as fsp } from "node:fs";
import os from "node:os";
import path from "node:path";
import { copyToFreeName } from "./copy-file.js";
import { nodeFileOps, type FileOps } from "./file-ops.js";
import { ManifestWriter } from "./manifest.js";
import { runPool } from "./pool.js";
import { walkTree } from "./walk.js";

export interface SampleOptions {
  source: string;
  /** Where the sample is written: the target share measures the real path; default os.tmpdir(). */
  scratchDir?: string;
  /** Default 64 MiB. */
  maxBytes?: number;
  /** Default 500 files. */
  maxFiles?: number;
  concurrency?: number;
  ops?: FileOps;
}

export interface SampleResult {
  files: number;
  bytes: number;
  durationMs: number;
  bytesPerSecond: number;
  filesPerSecond: number;
}

export async function measureSample(options: SampleOptions): Promise<SampleResult> {
  const ops = options.ops ?? nodeFileOps;
  const maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
  const maxFiles = options.maxFiles ?? 500;
  const scratch = await fsp.mkdtemp(path.join(options.scratchDir ?? os.tmpdir(), ".octoha-sample-"));
  let files = 0;
  let bytes = 0;
  const started = performance.now();
  try {
    const picked = async function* () {
      let n = 0;
      for await (const entries of walkTree(ops, options.source)) {
        const picks = [];
        for (const e of entries) {
          if (e.type !== "file") continue;
          if (files >= maxFiles || bytes + e.size > maxBytes) {
            if (files > 0) break;
            continue; // every file so far is bigger than the budget: keep looking for one that fits
          }
          files++;
          bytes += e.size;
          picks.push({ from: path.join(options.source, ...e.relPath.split("/")), to: path.join(scratch, `${n++}`), entry: e });
        }
        if (picks.length > 0) yield picks;
        if (files >= maxFiles) return;
      }
    };
    const c = options.concurrency ?? 16;
    const writer = await ManifestWriter.open(ops, path.join(scratch, "manifest.jsonl"));
    try {
      await runPool(picked(), { small: c, large: Math.max(2, c >> 2), largeBytes: 8 << 20 }, async (job) => {
        const intent = { v: 2, relPath: path.basename(job.to), size: job.entry.size, mtimeMs: job.entry.mtimeMs, intent: "open" } as const;
        const copied = await copyToFreeName(ops, job.from, job.to, () => writer.intend(intent), undefined, job.entry);
        writer.add({ v: 2, relPath: intent.relPath, size: copied.size, mtimeMs: copied.mtimeMs, sha256: copied.sha256 });
      });
    } finally {
      await writer.close(); // its last batch's commit is part of the copy's cost
    }
  } finally {
    await fsp.rm(scratch, { recursive: true, force: true });
  }
  const durationMs = Math.max(1, performance.now() - started);
  return {
    files,
    bytes,
    durationMs: Math.round(durationMs),
    bytesPerSecond: Math.round((bytes * 1000) / durationMs),
    filesPerSecond: (files * 1000) / durationMs,
  };
}

/** Seconds to copy `files` files of `bytes` bytes at the sampled rate (bytes bound, or per-file cost bound, whichever is slower). */
export function estimateSeconds(sample: SampleResult, files: number, bytes: number): number {
  if (sample.files === 0) return 0;
  return Math.max(bytes / Math.max(1, sample.bytesPerSecond), files / Math.max(1e-9, sample.filesPerSecond));
}
