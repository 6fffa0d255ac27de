/**
 * Construction of the real Octopus adapters and copy engine from a plan; tests inject fakes instead.
 */
import { OctohaError } from "../shared/errors.js";
import type { CopyEngine } from "./deps.js";

export { createOctopusPorts, type PortSecrets } from "../octopus/create-ports.js";

export function createCopyEngine(): CopyEngine {
  throw new OctohaError("The copy engine is not available in this build", {
    code: "COPY_ENGINE_NOT_AVAILABLE",
    hint: "This build of octoha was made without the copy engine (src/storage). Use a release build.",
  });
}
