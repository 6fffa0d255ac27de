/**
 * Construction of the real Octopus adapters and copy engine from a plan. They live on other
 * branches; until they are merged these throw a clear error, and tests inject fakes instead.
 */
import type { OctopusPorts } from "../octopus/types.js";
import type { Plan } from "../plan/schema.js";
import { OctohaError } from "../shared/errors.js";
import type { CopyEngine } from "./deps.js";

/** Secrets read from the environment (already registered with the redactor). */
export interface PortSecrets {
  apiKey: string;
  sqlConnectionString: string;
}

export async function createOctopusPorts(_plan: Plan, _secrets: PortSecrets): Promise<OctopusPorts> {
  throw new OctohaError("The Octopus adapters are not available in this build", {
    code: "ADAPTERS_NOT_AVAILABLE",
    hint: "This build of octoha was made without the REST/CLI/SQL adapters (src/octopus). Use a release build.",
  });
}

export function createCopyEngine(): CopyEngine {
  throw new OctohaError("The copy engine is not available in this build", {
    code: "COPY_ENGINE_NOT_AVAILABLE",
    hint: "This build of octoha was made without the copy engine (src/storage). Use a release build.",
  });
}
