/** Files and bytes under a folder: a streamed, read-only walk (memory: one folder's names at a time). */
import { nodeFileOps, type FileOps } from "./file-ops.js";
import { walkTree } from "./walk.js";

export async function sourceTotals(options: {
  source: string;
  signal?: AbortSignal;
  ops?: FileOps;
}): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  for await (const entries of walkTree(options.ops ?? nodeFileOps, options.source)) {
    if (options.signal?.aborted) break;
    for (const e of entries) {
      if (e.type !== "file") continue;
      files++;
      bytes += e.size;
    }
  }
  return { files, bytes };
}
