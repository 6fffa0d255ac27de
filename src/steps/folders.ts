/** Which folder kinds a run moves, and where each one is, as Octopus sees it and as this process reaches it. */
import path from "node:path";
import type { Plan } from "../plan/schema.js";
import type { ServerFolderPaths } from "../octopus/types.js";
import type { FolderKind } from "../model/folders.js";
import { FOLDER_KINDS } from "../model/folders.js";
import type { VersionFeatures } from "../octopus/versions.js";
import { underRoot } from "../storage/under-root.js";

export interface PlacedFolder {
  /** As Octopus sees it (written by `path`). */
  octopus: string;
  /** As this process reaches it. */
  access: string;
}

export interface NodeSource extends PlacedFolder {
  node: string;
}

/** Kinds this server version has (imports 2021.1+, event exports 2023.3+). */
function kindsForVersion(features: VersionFeatures): FolderKind[] {
  return FOLDER_KINDS.filter((k) => (k === "imports" ? features.imports : k === "eventExports" ? features.eventExports : true));
}

/** Kinds to move: the version has them and the plan names a shared folder for them. */
export function kindsToMove(plan: Plan, features: VersionFeatures): FolderKind[] {
  return kindsForVersion(features).filter((k) => plan.shared[k] !== undefined);
}

export function sharedFolder(plan: Plan, kind: FolderKind | "clusterShared"): PlacedFolder | undefined {
  const loc = plan.shared[kind];
  return loc ? { octopus: loc.octopus, access: loc.access ?? loc.octopus } : undefined;
}

/** Every node's local folder of this kind, as declared in the plan. */
export function nodeSources(plan: Plan, kind: FolderKind): NodeSource[] {
  const out: NodeSource[] = [];
  for (const n of plan.nodes) {
    const loc = n.folders[kind];
    if (loc) out.push({ node: n.name, octopus: loc.octopus, access: loc.access ?? loc.octopus });
  }
  return out;
}

/** The folder paths Octopus should end with: the plan's shared folders the version supports. */
export function targetServerFolders(plan: Plan, features: VersionFeatures): ServerFolderPaths {
  const out: ServerFolderPaths = {};
  if (features.clusterShared && plan.shared.clusterShared) out.clusterShared = plan.shared.clusterShared.octopus;
  for (const kind of kindsToMove(plan, features)) out[kind] = plan.shared[kind]!.octopus;
  return out;
}

/** Paths compare the way the platform does: Windows paths case-insensitively, ignoring a trailing separator. */
export function samePath(a: string | undefined, b: string | undefined, platform: Plan["octopus"]["platform"]): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (platform === "windows") {
    const norm = (p: string) => path.win32.normalize(p).replace(/\\+$/, "").toLowerCase();
    return norm(a) === norm(b);
  }
  const norm = (p: string) => path.posix.normalize(p).replace(/\/+$/, "");
  return norm(a) === norm(b);
}

/** Where a run keeps a copy manifest for one kind and node: stable across runs, so the window copy knows what the preseed wrote. */
export function manifestPath(stateDir: string, kind: FolderKind, node: string): string {
  const folder = path.join(stateDir, "manifests");
  return underRoot(folder, path.join(folder, `${kind}-${node.replace(/[^A-Za-z0-9_.-]/g, "_")}.jsonl`));
}
