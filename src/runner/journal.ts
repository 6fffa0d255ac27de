/**
 * The run journal: `<stateDir>/runs/<runId>/journal.jsonl`, append-only, one JSON record a line,
 * each record fsync'd before append() resolves. Everything passes through the redactor first.
 * Reading tolerates a torn last line (a crash mid-write) and refuses a corrupt line anywhere else.
 */
import { mkdir, open, readFile, truncate, type FileHandle } from "node:fs/promises";
import path from "node:path";
import { OctohaError } from "../shared/errors.js";
import type { Redactor } from "../shared/redact.js";

export const JOURNAL_FORMAT_VERSION = 1;

export interface ErrorRecord {
  code: string;
  message: string;
  hint?: string;
  behaviour?: string;
  /** The exit code the error asked for (an OctohaError's exitCode), e.g. 3 for "stopped, resumable". */
  exitCode?: number;
}

/** Every line of a journal. `v` is the journal format version. */
export type JournalRecord = { v: number; at: number } & (
  | { t: "run"; runId: string; stepIds: string[]; octohaVersion: string; machineVersion: number; invocation?: RunInvocation }
  | { t: "snapshot"; machineVersion: number; state: string; snapshot: unknown }
  | { t: "checkpoint"; stepId: string; data: unknown }
  | { t: "applied"; stepId: string; result: unknown }
  | { t: "verified"; stepId: string; ok: boolean; summary: string; problems?: string[] }
  | { t: "step-failed"; stepId: string; error: ErrorRecord }
  | { t: "rolled-back"; stepId: string }
  | { t: "rollback-refused"; stepId: string; reason: string }
  | { t: "rollback-failed"; stepId: string; error: ErrorRecord }
  | { t: "outcome"; status: string; exitCode: number }
);

export type JournalEntry = JournalRecord extends infer R ? (R extends { t: string } ? Omit<R, "v" | "at"> : never) : never;

/** What a verb needs to rebuild the same steps for resume/rollback without being told again. */
export interface RunInvocation {
  workflow?: string;
  planFile?: string;
  flags?: Record<string, boolean | string | undefined>;
}

/** What the journal says about one step in the current generation (a rollback starts a new one). */
export interface StepRecord {
  checkpoints: number;
  lastCheckpoint?: unknown;
  applied: boolean;
  result?: unknown;
  verified?: boolean;
}

export function runDir(stateDir: string, runId: string): string {
  return path.join(stateDir, "runs", runId);
}

export function journalFile(stateDir: string, runId: string): string {
  return path.join(runDir(stateDir, runId), "journal.jsonl");
}

export interface JournalReadResult {
  records: JournalRecord[];
  /** Set when the last line was torn (crash mid-write) and ignored. */
  tornLastLine?: { line: number; bytes: number };
}

/** Parses journal text. Throws JOURNAL_CORRUPT naming file:line for a bad line that is not the last. */
export function parseJournal(file: string, text: string): JournalReadResult {
  const lines = text.split("\n");
  // A complete journal ends with "\n", so the last element is "" unless the last write was torn.
  const last = lines.pop() ?? "";
  const records: JournalRecord[] = [];
  let tornLastLine: JournalReadResult["tornLastLine"];
  const parseLine = (line: string): JournalRecord | undefined => {
    try {
      const rec = JSON.parse(line) as JournalRecord;
      if (rec && typeof rec === "object" && typeof rec.t === "string" && typeof rec.v === "number") return rec;
    } catch {
      // fall through
    }
    return undefined;
  };
  lines.forEach((line, i) => {
    const rec = parseLine(line);
    if (rec === undefined) {
      const isLast = i === lines.length - 1 && last === "";
      if (isLast) {
        tornLastLine = { line: i + 1, bytes: Buffer.byteLength(line) };
        return;
      }
      throw new OctohaError(`Journal ${file}:${i + 1} is corrupt: ${JSON.stringify(line.slice(0, 80))}`, {
        code: "JOURNAL_CORRUPT",
        path: file,
        hint: "Only a torn last line is tolerated (a crash mid-write); a bad line in the middle means the file was edited or damaged. Nothing was changed. Restore the file from a backup, or inspect it and remove the run with care.",
      });
    }
    if (rec.v !== JOURNAL_FORMAT_VERSION) {
      throw new OctohaError(`Journal ${file}:${i + 1} has format version ${rec.v}; expected ${JOURNAL_FORMAT_VERSION}`, {
        code: "JOURNAL_VERSION",
        path: file,
        hint: "Finish or roll back that run with the octoha version that started it.",
      });
    }
    records.push(rec);
  });
  if (last !== "") {
    const rec = parseLine(last);
    if (rec) records.push(rec);
    else tornLastLine = { line: lines.length + 1, bytes: Buffer.byteLength(last) };
  }
  return tornLastLine ? { records, tornLastLine } : { records };
}

export async function readJournal(stateDir: string, runId: string): Promise<JournalReadResult> {
  const file = journalFile(stateDir, runId);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new OctohaError(`No journal for run ${runId} at ${file}`, { code: "RUN_NOT_FOUND", path: file, cause: error, exitCode: 2, hint: "Check --run and --state-dir; `octoha status` lists the latest run." });
  }
  return parseJournal(file, text);
}

/** Folds one record into per-step facts. A "rolled-back" record forgets the step's earlier generation. */
function foldRecord(steps: Map<string, StepRecord>, r: JournalRecord): void {
  if (r.t === "rolled-back") {
    steps.delete(r.stepId);
    return;
  }
  if (r.t !== "checkpoint" && r.t !== "applied" && r.t !== "verified") return;
  const s = steps.get(r.stepId) ?? { checkpoints: 0, applied: false };
  steps.set(r.stepId, s);
  if (r.t === "checkpoint") Object.assign(s, { lastCheckpoint: r.data, checkpoints: s.checkpoints + 1 });
  else if (r.t === "applied") Object.assign(s, { applied: true, result: r.result });
  else s.verified = r.ok;
}

/** Replays records into per-step facts for the current generation of each step. */
export function indexSteps(records: readonly JournalRecord[]): Map<string, StepRecord> {
  const steps = new Map<string, StepRecord>();
  for (const r of records) foldRecord(steps, r);
  return steps;
}

export interface JournalWriterOptions {
  stateDir: string;
  runId: string;
  redactor: Redactor;
  /** Existing records (resume): the in-memory step index starts from them. */
  records?: JournalRecord[];
  now?: () => number;
  /** Test hook: called after each record is on disk, with the count written by this process. */
  afterWrite?: (count: number) => void;
}

/** Byte length up to the last "\n" when the file ends in a torn line; undefined when it is clean or absent. */
async function endOfLastCompleteLine(file: string): Promise<number | undefined> {
  const fh = await open(file, "r").catch(() => undefined);
  if (!fh) return undefined;
  try {
    const { size } = await fh.stat();
    // Scan backwards in chunks: journals grow long, torn lines are short.
    const chunk = Buffer.alloc(64 * 1024);
    for (let pos = size; pos > 0; ) {
      const start = Math.max(0, pos - chunk.length);
      const { bytesRead } = await fh.read(chunk, 0, pos - start, start);
      const nl = chunk.subarray(0, bytesRead).lastIndexOf(0x0a);
      if (pos === size && nl === bytesRead - 1) return undefined;
      if (nl >= 0) return start + nl + 1;
      pos = start;
    }
    return size > 0 ? 0 : undefined;
  } finally {
    await fh.close();
  }
}

/** Appends records one at a time, in order; append() resolves once the record is fsync'd. */
export class JournalWriter {
  readonly file: string;
  readonly steps: Map<string, StepRecord>;
  private handle: FileHandle | undefined;
  private queue: Promise<void> = Promise.resolve();
  private written = 0;
  private failure: unknown;

  constructor(private readonly options: JournalWriterOptions) {
    this.file = journalFile(options.stateDir, options.runId);
    this.steps = indexSteps(options.records ?? []);
  }

  async open(): Promise<void> {
    await mkdir(path.dirname(this.file), { recursive: true });
    // A torn last line from a crash (reported by readJournal): cut it off, or it would become a
    // corrupt line in the middle once the next record is appended.
    const end = await endOfLastCompleteLine(this.file);
    if (end !== undefined) await truncate(this.file, end);
    this.handle = await open(this.file, "a");
  }

  /** Queues a record; resolves when it is on disk. Records are written in call order. */
  append(entry: JournalEntry): Promise<void> {
    const now = this.options.now ?? Date.now;
    const record = this.options.redactor.redactValue({ v: JOURNAL_FORMAT_VERSION, at: now(), ...entry } as JournalRecord);
    const task = this.queue.then(async () => {
      if (this.failure !== undefined) throw this.failure;
      const handle = this.handle;
      if (!handle) throw new OctohaError("Journal written before it was opened", { code: "INTERNAL" });
      try {
        await handle.write(`${JSON.stringify(record)}\n`);
        await handle.sync();
      } catch (error) {
        this.failure = new OctohaError(`Cannot write the run journal ${this.file}`, { code: "JOURNAL_WRITE", path: this.file, cause: error, hint: "The state directory must be writable and have free space; the run stops so that nothing happens unjournaled." });
        throw this.failure;
      }
      this.indexRecord(record);
      this.written += 1;
      this.options.afterWrite?.(this.written);
    });
    // Keep the chain alive after a failure so later appends report it instead of hanging.
    this.queue = task.catch(() => undefined);
    return task;
  }

  /** Resolves when everything appended so far is on disk. */
  async flush(): Promise<void> {
    await this.queue;
    if (this.failure !== undefined) throw this.failure;
  }

  async close(): Promise<void> {
    await this.queue;
    await this.handle?.close();
    this.handle = undefined;
  }

  private indexRecord(record: JournalRecord): void {
    foldRecord(this.steps, record);
  }
}
