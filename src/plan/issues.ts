/** A problem found in a plan, as load.ts, validate.ts and secrets.ts report it (apart, so none of them imports another both ways). */
export interface PlanIssue {
  /** JSON path, e.g. "nodes[1].folders.taskLogs.octopus". */
  path: string;
  /** Where in the file, for problems found in its text (encoding, duplicate keys, syntax). */
  at?: { line: number; column: number };
  message: string;
  /** Value found (secrets redacted by the caller's redactor). */
  value?: unknown;
  fix?: string;
}

export function formatPath(segments: readonly PropertyKey[]): string {
  let out = "";
  for (const s of segments) {
    const key = String(s);
    // A key is echoed in every path under it: a 50 MB key is cut, not printed.
    out += typeof s === "number" ? `[${s}]` : `${out ? "." : ""}${key.length > 60 ? `${key.slice(0, 60)}…` : key}`;
  }
  return out || "(plan)";
}
