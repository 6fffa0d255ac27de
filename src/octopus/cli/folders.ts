/**
 * ServerFolders through Octopus.Server.exe: `show-configuration` to read (the values stored in the
 * database, and Octopus.Home for the defaults of keys nobody set), `path` to write (once per cluster). Keys a version lacks are refused before anything runs
 * (reference §3.1, version gates in src/octopus/versions.ts).
 */
import { InputError, OctohaError } from "../../shared/errors.js";
import { featuresOf, type VersionFeatures } from "../versions.js";
import { folderDefaults } from "../folder-defaults.js";
import type { ServerFolderPaths, ServerFolderReading, ServerFolders } from "../types.js";
import { runExe, type ExeRunOptions } from "./exec.js";

export interface ServerExeOptions extends ExeRunOptions {
  /** Octopus.Server.exe as an argv prefix, e.g. ["C:\\Program Files\\Octopus Deploy\\Octopus\\Octopus.Server.exe"]. */
  command: string[];
  instance: string;
  /** The server version (VersionProbe), used to refuse options it does not have. */
  version: () => Promise<string>;
}

/** Path option ↔ show-configuration key, and the feature gate of options that came later. */
const FOLDER_SPECS: { kind: keyof ServerFolderPaths; option: string; key: string; gate?: keyof VersionFeatures }[] = [
  { kind: "taskLogs", option: "taskLogs", key: "Octopus.Folders.LogDirectory" },
  { kind: "artifacts", option: "artifacts", key: "Octopus.Folders.ArtifactsDirectory" },
  { kind: "packages", option: "nugetRepository", key: "Octopus.Folders.PackagesDirectory" },
  { kind: "clusterShared", option: "clusterShared", key: "Octopus.Folders.ClusterSharedDirectory", gate: "clusterShared" },
  { kind: "imports", option: "imports", key: "Octopus.Folders.ImportsDirectory", gate: "imports" },
  { kind: "eventExports", option: "eventExports", key: "Octopus.Folders.EventExportsDirectory", gate: "eventExports" },
];

export class CliServerFolders implements ServerFolders {
  constructor(private readonly o: ServerExeOptions) {}

  async read(): Promise<ServerFolderReading> {
    const { stdout } = await runExe(
      [
        ...this.o.command,
        "show-configuration",
        "--format=json-hierarchical",
        "--noconsolelogging",
        "--console",
        `--instance=${this.o.instance}`,
      ],
      this.o,
    );
    const config = parseShowConfiguration(stdout);
    const stored: ServerFolderPaths = {};
    for (const spec of FOLDER_SPECS) {
      const value = configValue(config, spec.key);
      if (typeof value === "string" && value !== "") stored[spec.kind] = value;
    }
    // An unset key (absent, null or empty) resolves from Home: ClusterShared to Home itself, the kinds under ClusterShared.
    const home = configValue(config, "Octopus.Home");
    const features = featuresOf(await this.o.version());
    return { stored, defaults: folderDefaults(stored, typeof home === "string" && home !== "" ? home : undefined, features) };
  }

  async write(paths: ServerFolderPaths): Promise<void> {
    const version = await this.o.version();
    const features = featuresOf(version);
    const args: string[] = [];
    const refused: string[] = [];
    for (const spec of FOLDER_SPECS) {
      const value = paths[spec.kind];
      if (value === undefined) continue;
      if (value.trim() === "") refused.push(`${spec.kind}: an empty path`);
      else if (spec.gate && !features[spec.gate]) refused.push(`${spec.kind}: Octopus ${version} has no path --${spec.option}`);
      else args.push(`--${spec.option}=${value}`);
    }
    if (refused.length > 0)
      throw new InputError(`Refusing to run path: ${refused.join("; ")}.`, {
        code: "OCTOPUS_PATH_OPTION_UNSUPPORTED",
        issues: refused,
        hint: "Drop those folders from the plan's shared section for this Octopus version (reference §3.1 lists when each option appeared).",
      });
    if (args.length === 0) return;
    await runExe([...this.o.command, "path", `--instance=${this.o.instance}`, ...args], this.o);
  }
}

/**
 * The JSON object in show-configuration output. The real tool can print log lines (even an
 * exception) before the JSON, so take the first `{` from which the rest parses (reference §3.5).
 */
export function parseShowConfiguration(output: string): Record<string, unknown> {
  const end = output.lastIndexOf("}");
  for (let start = output.indexOf("{"); start !== -1 && start < end; start = output.indexOf("{", start + 1)) {
    try {
      const value: unknown = JSON.parse(output.slice(start, end + 1));
      if (value && typeof value === "object" && !Array.isArray(value)) return value as Record<string, unknown>;
    } catch {
      // not the start of the JSON yet
    }
  }
  throw new OctohaError("show-configuration printed no JSON object.", {
    code: "OCTOPUS_SHOW_CONFIGURATION_UNPARSEABLE",
    hint: "Run `Octopus.Server.exe show-configuration --format=json-hierarchical --noconsolelogging --console` by hand on the node: an error it prints instead of JSON is the real problem.",
  });
}

/** A key from either shape: flat ("Octopus.Folders.LogDirectory": …) or hierarchical ({Octopus:{Folders:{…}}}). */
export function configValue(config: Record<string, unknown>, key: string): unknown {
  if (key in config) return config[key];
  let cur: unknown = config;
  for (const part of key.split(".")) {
    if (!cur || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}
