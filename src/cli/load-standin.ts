/**
 * The Octopus stand-in is its own package (@octoha/standin, the workspace standin/ of the octoha
 * repository) and the octoha npm package does not carry it. The `demo` and `standin` verbs load it
 * here, when they run, so no other verb loads its TDS and SQL modules, and an install without it
 * gets a message saying how to get it instead of a module-resolution stack trace.
 */
import { OctohaError } from "../shared/errors.js";
import { ExitCode } from "../shared/exit-codes.js";

export const STANDIN_PACKAGE = "@octoha/standin";
export type StandinModule = typeof import("@octoha/standin");

export async function loadStandin(): Promise<StandinModule> {
  try {
    return await import("@octoha/standin");
  } catch (error) {
    throw standinLoadError(error);
  }
}

const HOW_TO_GET_IT =
  "It is the workspace standin/ of the octoha repository, not part of the octoha npm package: in a clone of octoha " +
  "run `npm install` and `npm run build`, then run octoha from that clone (`npm run demo` builds and runs the demo).";

/** A missing stand-in (or a missing file or dependency of it) as an operator error; anything else unchanged. */
export function standinLoadError(error: unknown): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (code !== "ERR_MODULE_NOT_FOUND" && code !== "MODULE_NOT_FOUND") return error;
  const why = error instanceof Error ? error.message : String(error);
  if (why.includes(`'${STANDIN_PACKAGE}'`)) {
    return new OctohaError(`the Octopus stand-in is not installed (package ${STANDIN_PACKAGE} not found)`, {
      code: "STANDIN_NOT_INSTALLED",
      hint: HOW_TO_GET_IT,
      exitCode: ExitCode.BadInput,
      cause: error,
    });
  }
  return new OctohaError(`the Octopus stand-in is installed but cannot be loaded: ${why}`, {
    code: "STANDIN_NOT_LOADABLE",
    hint: "Its build output or one of its dependencies is missing: run `npm install` and `npm run build` in the octoha clone.",
    exitCode: ExitCode.BadInput,
    cause: error,
  });
}
