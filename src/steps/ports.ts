/**
 * Construction of the real Octopus adapters and copy engine from a plan; tests inject fakes instead.
 */
import { stat } from "node:fs/promises";
import { copyTree, measureSample, preflightTarget, sourceTotals, undoRunCopies } from "../storage/index.js";
import type { CopyEngine, TargetCheck } from "./deps.js";

export { createOctopusPorts, type PortSecrets } from "./octopus-ports.js";

/** The steps' view of src/storage: copy, check a target before the first byte, measure a sample rate. */
export function createCopyEngine(): CopyEngine {
  return {
    copyTree,
    async preflightTarget({ target, bytesNeeded, dryRun }): Promise<TargetCheck> {
      const exists = await stat(target).then(
        (s) => s.isDirectory(),
        () => false,
      );
      // Dry-run writes nothing, not even a probe file: only access rights are checked then.
      const result = await preflightTarget({ target, bytesNeeded: bytesNeeded ?? 0, probe: !dryRun });
      const problem = result.problems.map((p) => (p.hint ? `${p.message}. ${p.hint}` : p.message)).join("; ");
      return { exists, freeBytes: result.freeBytes, ...(dryRun ? {} : { writable: result.ok }), ...(problem ? { problem } : {}) };
    },
    sourceTotals,
    undoCopies: (options) => undoRunCopies(options),
    async measureRate({ source }) {
      const sample = await measureSample({ source, maxBytes: 16 * 1024 * 1024, maxFiles: 200 });
      return sample.bytes > 0 ? sample.bytesPerSecond : undefined;
    },
  };
}
