/** Server folder kinds octoha moves; the keys match Octopus.Server.exe path options. */
export type FolderKind = "taskLogs" | "artifacts" | "packages" | "imports" | "eventExports";
export const FOLDER_KINDS: readonly FolderKind[] = ["taskLogs", "artifacts", "packages", "imports", "eventExports"];
