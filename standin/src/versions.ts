/**
 * Octopus version comparison for the stand-in. The stand-in keeps its own copy of these facts rather
 * than importing octoha's: it is a separate package that octoha loads, so it must not load octoha back,
 * and a simulator that shares the product's version table would hide a wrong entry in it.
 */

export type Version = readonly number[];

export function parseVersion(text: string): Version {
  const m = /^\s*v?(\d+(?:\.\d+)*)/.exec(text);
  if (!m) throw new Error(`not an Octopus version: ${JSON.stringify(text)}`);
  return m[1]!.split(".").map(Number);
}

/** Numeric, part by part: 2023.3.13026 > 2023.3.9; 3.17.1 < 4.0.5. */
export function compareVersions(a: Version | string, b: Version | string): number {
  const x = typeof a === "string" ? parseVersion(a) : a;
  const y = typeof b === "string" ? parseVersion(b) : b;
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

/** Task logs as one directory per task with *.tl.txt parts (2025.2.10530+). */
export function hasPerTaskLogDirectories(version: string): boolean {
  return compareVersions(version, "2025.2.10530") >= 0;
}
