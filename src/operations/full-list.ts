/**
 * `dry-run --full-list FILE`: every collision and missing log the previews find, one JSON object a
 * line, written as they are found (nothing is held in memory: a million collisions cost a file, not
 * a heap). The report itself lists the first ones and the totals. Lines go through the redactor.
 */
import { closeSync, openSync, writeSync } from "node:fs";
import path from "node:path";
import type { FullListRecord, FullListSink } from "../model/copy-results.js";
import { InputError } from "../shared/errors.js";
import type { Redactor } from "../shared/redact.js";

export interface FullListFile {
  sink: FullListSink;
  /** Lines written. */
  readonly lines: number;
  close(): void;
}

/**
 * The preseed and the window copy preview the same files: collisions are kept from the copy-* steps
 * when the workflow has them, else from the preseed (as the report's totals are).
 */
export function openFullList(file: string, stepIds: readonly string[], redactor: Redactor): FullListFile {
  const copySteps = new Set(stepIds.filter((id) => id.startsWith("copy-")));
  const counted = copySteps.size > 0 ? copySteps : new Set(["preseed"]);
  let fd: number;
  try {
    fd = openSync(path.resolve(file), "w");
  } catch (error) {
    throw new InputError(`Cannot write the full list to ${file}: ${(error as Error).message}`, {
      code: "FULL_LIST_UNWRITABLE",
      hint: "Name a file in a folder that exists and that you may write to.",
    });
  }
  let buffer = "";
  let lines = 0;
  const flush = () => {
    if (buffer) writeSync(fd, buffer);
    buffer = "";
  };
  return {
    sink: (record: FullListRecord) => {
      if (record.list === "collision" && !counted.has(record.step)) return;
      buffer += redactor.redact(JSON.stringify(record)) + "\n";
      lines++;
      if (buffer.length > 1 << 16) flush();
    },
    get lines() {
      return lines;
    },
    close: () => {
      try {
        flush();
      } finally {
        closeSync(fd);
      }
    },
  };
}
