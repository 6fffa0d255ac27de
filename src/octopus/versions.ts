/**
 * Version gates from reference/octopus.md §7 item 5. Octopus versions look like 2023.3.13026;
 * older ones like 3.17.1 or 4.0.5. Comparison is numeric, part by part.
 */

export type Version = readonly number[];

function parseVersion(text: string): Version {
  const m = /^\s*v?(\d+(?:\.\d+)*)/.exec(text);
  if (!m) throw new Error(`not an Octopus version: ${JSON.stringify(text)}`);
  return m[1]!.split(".").map(Number);
}

export function compareVersions(a: Version | string, b: Version | string): number {
  const x = typeof a === "string" ? parseVersion(a) : a;
  const y = typeof b === "string" ? parseVersion(b) : b;
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

const atLeast = (v: string, min: string) => compareVersions(v, min) >= 0;

/** What a given server version supports, as octoha needs to know it. */
export interface VersionFeatures {
  /** path --clusterShared (2020.2.15+) */
  clusterShared: boolean;
  /** path --imports (2021.1+) */
  imports: boolean;
  /** path --eventExports (2023.3+) */
  eventExports: boolean;
  /** Task logs as one directory per task with *.tl.txt parts (2025.2.10530+) */
  perTaskLogDirectories: boolean;
  /** node --drain --wait gives up after 5 minutes before 2025.3.10568: poll running tasks ourselves. */
  trustDrainWait: boolean;
  /** 2023.3 before .13026 could run one task on several nodes at once. */
  duplicateExecutionBug: boolean;
  /** Folder paths live in the DB (3.5+): `path` runs once per cluster. */
  foldersInDatabase: boolean;
}

export function featuresOf(version: string): VersionFeatures {
  return {
    clusterShared: atLeast(version, "2020.2.15"),
    imports: atLeast(version, "2021.1"),
    eventExports: atLeast(version, "2023.3"),
    perTaskLogDirectories: atLeast(version, "2025.2.10530"),
    trustDrainWait: atLeast(version, "2025.3.10568"),
    duplicateExecutionBug: atLeast(version, "2023.3") && !atLeast(version, "2023.3.13026"),
    foldersInDatabase: atLeast(version, "3.5"),
  };
}
