/**
 * Where Octopus keeps a folder whose setting was never stored (reference/octopus.md §1.5, §3.1, §4.1):
 * - ClusterShared defaults to the Home folder [V];
 * - TaskLogs, Artifacts, Packages, Imports and EventExports live in Home\<Name> [V] and, once a
 *   ClusterShared is set, are its children [V: "--clusterShared" makes them children; that an unset
 *   one follows ClusterShared is inferred, I]. So an unset kind resolves to <ClusterShared>\<Name>.
 * `path` cannot unset a key, so restoring a key that was unset means writing this value explicitly:
 * octoha must know it before the run changes anything, and says so when it cannot.
 */
import path from "node:path";
import type { VersionFeatures } from "./versions.js";
import type { ServerFolderPaths } from "./types.js";

type FolderKey = keyof ServerFolderPaths;

/** Octopus's own sub-folder names under Home / ClusterShared (§4.1). */
const SUBFOLDER: Record<Exclude<FolderKey, "clusterShared">, string> = {
  taskLogs: "TaskLogs",
  artifacts: "Artifacts",
  packages: "Packages",
  imports: "Imports",
  eventExports: "EventExports",
};

/** The folder keys a server version has. */
function folderKeysOf(features: VersionFeatures): FolderKey[] {
  return [
    ...(features.clusterShared ? (["clusterShared"] as const) : []),
    "taskLogs",
    "artifacts",
    "packages",
    ...(features.imports ? (["imports"] as const) : []),
    ...(features.eventExports ? (["eventExports"] as const) : []),
  ];
}

/** Windows spellings (C:\…, \\server\share) join with backslashes; anything else is POSIX (containers). */
function joinUnder(root: string, name: string): string {
  return /^[A-Za-z]:[\\/]|^\\\\/.test(root) ? path.win32.join(root, name) : path.posix.join(root, name);
}

/**
 * What each key the version has but that is not stored resolves to, given the Home folder
 * (show-configuration's Octopus.Home). A key whose default is not knowable (no Home) is left out.
 */
export function folderDefaults(stored: ServerFolderPaths, home: string | undefined, features: VersionFeatures): ServerFolderPaths {
  const out: ServerFolderPaths = {};
  const clusterShared = features.clusterShared ? (stored.clusterShared ?? home) : home;
  if (features.clusterShared && stored.clusterShared === undefined && home !== undefined) out.clusterShared = home;
  for (const key of folderKeysOf(features)) {
    if (key === "clusterShared" || stored[key] !== undefined || clusterShared === undefined) continue;
    out[key] = joinUnder(clusterShared, SUBFOLDER[key]);
  }
  return out;
}
