/**
 * The run journal: `<stateDir>/runs/<runId>/journal.jsonl`, append-only, one JSON record a line,
 * each record fsync'd before append() resolves. Everything passes through the redactor first.
 *
 * Damage is never taken for a crash. Every record carries its sequence number (= its line number)
 * and a checksum chained to the previous record's (`"sum"`, the line's last key). After each record
 * is on disk, `journal.head` beside it names the newest record (its seq and sum), so the journal
 * cannot end before that record. A crash mid-write leaves at most an incomplete last line after
 * the record journal.head names: that torn record is ignored (with a warning) and cut off by the
 * next writer. Anything else (a changed byte, a line removed, repeated or moved, the file cut
 * short, journal.head missing or naming another record) is refused with `file:line`, exit 2.
 *
 * Format version 1 (the previous release: no seq, no sum, no journal.head) is still read, so a run
 * stopped by that release can be resumed or rolled back after an upgrade; its records cannot be
 * checked, and records appended to it are version 2.
 */
import { createHash } from "node:crypto";
import { mkdir, open, readFile, rename, truncate, writeFile, type FileHandle } from "node:fs/promises";
import path from "node:path";
import { InputError, OctohaError } from "../shared/errors.js";
import type { ErrorRecord } from "../model/run.js";
import type { Redactor } from "../shared/redact.js";
import { ExitCode } from "../shared/exit-codes.js";

const JOURNAL_FORMAT_VERSION = 2;
/** The previous release's format: read (records without checksums), never written. */
const LEGACY_JOURNAL_FORMAT_VERSION = 1;

/** Every line of a journal. `v` is the journal format version; `seq` its line number (1-based). */
export type JournalRecord = { v: number; seq: number; at: number } & (
  | { t: "run"; runId: string; stepIds: string[]; octohaVersion: string; machineVersion: number; invocation?: RunInvocation }
  | { t: "snapshot"; machineVersion: number; state: string; snapshot: unknown }
  | { t: "checkpoint"; stepId: string; data: unknown }
  /** changedNothing: the step said its result changed nothing (it was skipped: Step.changedNothing), for readers without the steps (status). */
  | { t: "applied"; stepId: string; result: unknown; changedNothing?: true }
  | { t: "verified"; stepId: string; ok: boolean; summary: string; problems?: string[] }
  | { t: "step-failed"; stepId: string; error: ErrorRecord }
  | { t: "rolled-back"; stepId: string }
  | { t: "rollback-refused"; stepId: string; reason: string }
  | { t: "rollback-failed"; stepId: string; error: ErrorRecord }
  | { t: "outcome"; status: string; exitCode: number }
);

export type JournalEntry = JournalRecord extends infer R ? (R extends { t: string } ? Omit<R, "v" | "seq" | "at"> : never) : never;

/** What a verb needs to rebuild the same steps for resume/rollback without being told again. */
export interface RunInvocation {
  workflow?: string;
  planFile?: string;
  flags?: Record<string, boolean | string | undefined>;
  /** Where the plan said data is read and written when the run started (plan/where-data-goes.ts); absent before 2026-12-07. */
  dataPlan?: Record<string, string>;
}

/** What the journal says about one step in the current generation (a rollback starts a new one). */
export interface StepRecord {
  checkpoints: number;
  lastCheckpoint?: unknown;
  applied: boolean;
  result?: unknown;
  /** Its applied record says it changed nothing (skipped). */
  changedNothing?: boolean;
  verified?: boolean;
}

export function runDir(stateDir: string, runId: string): string {
  return path.join(stateDir, "runs", runId);
}

export function journalFile(stateDir: string, runId: string): string {
  return path.join(runDir(stateDir, runId), "journal.jsonl");
}

/** journal.head: the newest record on disk (its seq and sum); the journal may not end before it. */
function journalHeadFile(stateDir: string, runId: string): string {
  return path.join(runDir(stateDir, runId), "journal.head");
}

interface JournalTail {
  /** Complete records (lines ending in "\n"). */
  count: number;
  /** Checksum of the last complete version-2 record ("" before the first). */
  sum: string;
  /** Bytes up to the end of the last complete line. */
  bytes: number;
}

export interface JournalReadResult {
  records: JournalRecord[];
  /** Set when the last line was torn (crash mid-write) and ignored. */
  tornLastLine?: { line: number; bytes: number };
  /** Records written in the previous format (no checksums), which cannot be checked for damage. */
  legacyRecords?: number;
  /** Where the next record goes (the writer continues from here). */
  tail: JournalTail;
}

export interface JournalHead {
  seq: number;
  sum: string;
}

const SUM_HEX = 16;
const SUM_KEY = Buffer.from(',"sum":"');
/** `,"sum":"<16 hex>"}`: the checksum is the last key, so the line without it is the record's JSON. */
const SUM_SUFFIX_BYTES = SUM_KEY.length + SUM_HEX + 2;

/** The record's checksum: SHA-256 (first 64 bits) over the previous record's checksum and this record's JSON. */
function recordSum(previous: string, body: Buffer | string): string {
  return createHash("sha256").update(previous).update("\n").update(body).digest("hex").slice(0, SUM_HEX);
}

const DAMAGED_HINT = (file: string) =>
  [
    "Nothing was changed. octoha does not resume, roll back or start a run over a journal it cannot trust: a changed record could restore a wrong value, and a lost one could make a step record the half-changed cluster as its before-state.",
    `Restore ${file} and journal.head beside it from a backup (or from a copy of the state directory) and run the command again.`,
    `Without an intact copy: the lines before the one named are intact and show what the run recorded; put Octopus back by hand from them, then move ${path.dirname(file)} out of the state directory.`,
  ].join("\n");

function damaged(file: string, line: number, why: string): InputError {
  return new InputError(`Journal ${file}:${line} is damaged: ${why}`, { code: "JOURNAL_CORRUPT", path: file, hint: DAMAGED_HINT(file) });
}

function unsupportedVersion(file: string, line: number, found: unknown): InputError {
  return new InputError(
    `Journal ${file}:${line}: unsupported journal format version: expected ${JOURNAL_FORMAT_VERSION}, found ${JSON.stringify(found)}`,
    {
      code: "JOURNAL_VERSION",
      path: file,
      hint: "Finish or roll back that run with the octoha version that started it. Nothing was changed.",
    },
  );
}

const isRecord = (r: unknown): r is JournalRecord => r !== null && typeof r === "object" && typeof (r as { t?: unknown }).t === "string";

/** One complete line: a checked version-2 record (with its sum), or a previous-format record (sum undefined). */
function parseLine(file: string, lineNo: number, line: Buffer, previousSum: string): { record: JournalRecord; sum: string | undefined } {
  const suffix = line.length >= SUM_SUFFIX_BYTES ? line.subarray(line.length - SUM_SUFFIX_BYTES) : undefined;
  const hasSum =
    suffix !== undefined &&
    suffix.subarray(0, SUM_KEY.length).equals(SUM_KEY) &&
    /^[0-9a-f]{16}"}$/.test(suffix.subarray(SUM_KEY.length).toString("latin1"));
  if (hasSum) {
    const body = Buffer.concat([line.subarray(0, line.length - SUM_SUFFIX_BYTES), Buffer.from("}")]);
    const sum = suffix.subarray(SUM_KEY.length, SUM_KEY.length + SUM_HEX).toString("latin1");
    let record: unknown;
    try {
      record = JSON.parse(body.toString("utf8"));
    } catch {
      throw damaged(file, lineNo, "it is not a journal record (the line was changed after it was written)");
    }
    if (!isRecord(record)) throw damaged(file, lineNo, "it is not a journal record");
    if (typeof record.v === "number" && record.v > JOURNAL_FORMAT_VERSION) throw unsupportedVersion(file, lineNo, record.v);
    // The sequence number first: it says more about a line removed, repeated or moved than the checksum chain does.
    if (record.seq !== lineNo)
      throw damaged(
        file,
        lineNo,
        `it is record ${JSON.stringify(record.seq)}, where record ${lineNo} belongs: lines were removed, repeated or moved (or this one was changed)`,
      );
    if (recordSum(previousSum, body) !== sum || record.v !== JOURNAL_FORMAT_VERSION)
      throw damaged(file, lineNo, "its checksum does not match: the line was changed after it was written");
    return { record, sum };
  }
  let record: unknown;
  try {
    record = JSON.parse(line.toString("utf8"));
  } catch {
    throw damaged(file, lineNo, "it is not a complete journal record (only a torn last line is tolerated: a crash mid-write)");
  }
  if (!isRecord(record)) throw damaged(file, lineNo, "it is not a journal record");
  const v = (record as { v?: unknown }).v;
  if (typeof v === "number" && v > JOURNAL_FORMAT_VERSION) throw unsupportedVersion(file, lineNo, v);
  if (v !== LEGACY_JOURNAL_FORMAT_VERSION) throw damaged(file, lineNo, "its checksum is missing");
  if (previousSum !== "") throw damaged(file, lineNo, "a record without a checksum (the previous format) after records with one");
  return { record: { ...record, seq: lineNo }, sum: undefined };
}

/**
 * Parses and checks journal bytes against journal.head (undefined: no head file). Throws
 * JOURNAL_CORRUPT naming file:line for anything but a torn last line after the record the head names.
 */
export function parseJournal(file: string, bytes: Buffer | string, head?: JournalHead): JournalReadResult {
  const buf = typeof bytes === "string" ? Buffer.from(bytes) : bytes;
  const records: JournalRecord[] = [];
  const lineSums: (string | undefined)[] = [];
  let sum = "";
  let start = 0;
  for (let nl = buf.indexOf(0x0a); nl >= 0; start = nl + 1, nl = buf.indexOf(0x0a, start)) {
    const parsed = parseLine(file, records.length + 1, buf.subarray(start, nl), sum);
    records.push(parsed.record);
    lineSums.push(parsed.sum);
    sum = parsed.sum ?? sum;
  }
  const tail: JournalTail = { count: records.length, sum, bytes: start };
  checkHead(file, lineSums, head);
  const legacy = lineSums.filter((x) => x === undefined).length;
  return {
    records,
    tail,
    ...(start < buf.length ? { tornLastLine: { line: records.length + 1, bytes: buf.length - start } } : {}),
    ...(legacy > 0 ? { legacyRecords: legacy } : {}),
  };
}

/** The journal may not end before the record journal.head names, and that record must be the one it names. */
function checkHead(file: string, lineSums: readonly (string | undefined)[], head: JournalHead | undefined): void {
  if (!head) {
    // journal.head is written before the first checked record, so only a previous-format journal has none.
    if (lineSums.some((x) => x !== undefined))
      throw damaged(file, lineSums.length, "journal.head beside it is missing, so its end cannot be checked");
    return;
  }
  if (head.seq > lineSums.length) {
    throw damaged(
      file,
      lineSums.length + 1,
      `it ends after record ${lineSums.length}, but record ${head.seq} was written (journal.head): the end of the journal is missing`,
    );
  }
  const named = head.seq > 0 ? lineSums[head.seq - 1] : undefined;
  if (named !== undefined && named !== head.sum)
    throw damaged(file, head.seq, "journal.head names another record here: the journal was replaced or rewritten");
}

function parseHead(file: string, text: string): JournalHead {
  try {
    const head = JSON.parse(text) as Partial<JournalHead>;
    if (typeof head.seq === "number" && Number.isInteger(head.seq) && head.seq >= 0 && typeof head.sum === "string")
      return { seq: head.seq, sum: head.sum };
  } catch {
    // fall through
  }
  throw new InputError(`Journal head ${file} is damaged: ${JSON.stringify(text.slice(0, 80))}`, {
    code: "JOURNAL_CORRUPT",
    path: file,
    hint: DAMAGED_HINT(path.join(path.dirname(file), "journal.jsonl")),
  });
}

async function readHead(stateDir: string, runId: string): Promise<JournalHead | undefined> {
  const file = journalHeadFile(stateDir, runId);
  try {
    const text = await readFile(file, "utf8");
    // Empty: created by a release that opened the head before writing it, and killed in between. The
    // head is written before the first checked record, so this is "no head": a journal with checked
    // records beside it is still refused (checkHead), an empty one was never written to.
    if (text.length === 0) return undefined;
    return parseHead(file, text);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** What a reader says about records written by the previous release's format. */
export function legacyWarning(runId: string, count: number): string {
  return `The first ${count} record${count === 1 ? "" : "s"} of run ${runId}'s journal were written by octoha's previous journal format (version ${LEGACY_JOURNAL_FORMAT_VERSION}), which has no checksums: damage to them cannot be detected. Records written from now on are checked.`;
}

export async function readJournal(stateDir: string, runId: string): Promise<JournalReadResult> {
  const file = journalFile(stateDir, runId);
  // The head first: it is written after its record, so a journal read after it holds at least that record.
  const head = await readHead(stateDir, runId);
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    throw new OctohaError(`No journal for run ${runId} at ${file}`, {
      code: "RUN_NOT_FOUND",
      path: file,
      cause: error,
      exitCode: ExitCode.BadInput,
      hint: "Check --run and --state-dir; `octoha status` lists the latest run.",
    });
  }
  return parseJournal(file, bytes, head);
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
  else if (r.t === "applied") Object.assign(s, { applied: true, result: r.result, changedNothing: r.changedNothing === true });
  else s.verified = r.ok;
}

/** Steps whose newest journaled fact is their undo (not applied or checkpointed again since), in the order they were undone. */
export function undoneSteps(records: readonly JournalRecord[]): string[] {
  const undone: string[] = [];
  for (const r of records) {
    if (r.t !== "rolled-back" && r.t !== "checkpoint" && r.t !== "applied") continue;
    const at = undone.indexOf(r.stepId);
    if (at >= 0) undone.splice(at, 1);
    if (r.t === "rolled-back") undone.push(r.stepId);
  }
  return undone;
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
  /**
   * Test hook: called after each record is on disk, with the count written by this process and the record.
   * If it throws, the writer stops as a killed process would: that error fails this and every later append.
   */
  afterWrite?: (count: number, record: JournalRecord) => void;
  /**
   * Runs before each record is written; if it throws (the run's lock is no longer its own), nothing
   * is written, and that error fails this and every later append.
   */
  beforeWrite?: () => Promise<void>;
}

/** journal.head is one fixed-size line rewritten in place, so a reader never sees it half-long. */
const HEAD_BYTES = 64;
const headText = (head: JournalHead): string => `${JSON.stringify(head).padEnd(HEAD_BYTES - 1)}\n`;

async function createHead(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, text);
  const fh = await open(tmp, "r+");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
}

/** Appends records one at a time, in order; append() resolves once the record is fsync'd. */
export class JournalWriter {
  readonly file: string;
  readonly headFile: string;
  readonly steps: Map<string, StepRecord>;
  private handle: FileHandle | undefined;
  private head: FileHandle | undefined;
  private queue: Promise<void> = Promise.resolve();
  private written = 0;
  /** seq and sum of the last record on disk: the next one chains to them. */
  private last: JournalHead = { seq: 0, sum: "" };
  private failure: unknown;
  /** Steps this writer journaled as rolled back, in order: what this invocation undid (a restarted rollback's earlier undos are not). */
  readonly undoneHere: string[] = [];

  constructor(private readonly options: JournalWriterOptions) {
    this.file = journalFile(options.stateDir, options.runId);
    this.headFile = journalHeadFile(options.stateDir, options.runId);
    this.steps = indexSteps(options.records ?? []);
  }

  async open(): Promise<void> {
    await mkdir(path.dirname(this.file), { recursive: true });
    // Checked as readJournal checks it (under the lock now): damage is refused, never appended to.
    const head = await readHead(this.options.stateDir, this.options.runId);
    const bytes = await readFile(this.file).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return Buffer.alloc(0);
      throw error;
    });
    const existing = parseJournal(this.file, bytes, head);
    // A torn last record (a crash mid-write): cut it off, or it would become a damaged line in the middle.
    if (existing.tornLastLine) await truncate(this.file, existing.tail.bytes);
    this.last = { seq: existing.tail.count, sum: existing.tail.sum };
    this.handle = await open(this.file, "a");
    // journal.head exists (fsync'd) before the first checked record: from then on a journal without one is damaged.
    // A new head is written whole under a private name and renamed into place: opened with "w" and then
    // written, a kill between the two left an empty head that every later resume refused as damage.
    if (!head) await createHead(this.headFile, headText(this.last));
    this.head = await open(this.headFile, "r+");
    await this.head.write(headText(this.last), 0);
    await this.head.sync();
  }

  /** Queues a record; resolves when it is on disk. Records are written in call order. */
  append(entry: JournalEntry): Promise<void> {
    const now = this.options.now ?? Date.now;
    const redacted = this.options.redactor.redactValue({ at: now(), ...entry });
    const task = this.queue.then(async () => {
      if (this.failure !== undefined) throw this.failure;
      try {
        await this.options.beforeWrite?.();
      } catch (error) {
        this.failure = error;
        throw error;
      }
      const { handle, head } = this;
      if (!handle || !head) throw new OctohaError("Journal written before it was opened", { code: "INTERNAL" });
      // Key order is the line's: {"v":2,"seq":N,"at":…,"t":…,…,"sum":"…"}.
      const record = { v: JOURNAL_FORMAT_VERSION, seq: this.last.seq + 1, ...redacted } as JournalRecord;
      const body = JSON.stringify(record);
      const next = { seq: record.seq, sum: recordSum(this.last.sum, body) };
      try {
        await handle.write(`${body.slice(0, -1)},"sum":"${next.sum}"}\n`);
        await handle.sync();
        this.last = next;
        // Only after the record is on disk: journal.head never names a record that is not.
        await head.write(headText(next), 0);
      } catch (error) {
        this.failure = new OctohaError(`Cannot write the run journal ${this.file}`, {
          code: "JOURNAL_WRITE",
          path: this.file,
          cause: error,
          hint: "The state directory must be writable and have free space; the run stops so that nothing happens unjournaled.",
        });
        throw this.failure;
      }
      this.indexRecord(record);
      this.written += 1;
      try {
        this.options.afterWrite?.(this.written, record);
      } catch (error) {
        this.failure = error;
        throw error;
      }
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
    await this.head?.sync().catch(() => undefined);
    await this.head?.close();
    await this.handle?.close();
    this.head = undefined;
    this.handle = undefined;
  }

  private indexRecord(record: JournalRecord): void {
    foldRecord(this.steps, record);
    if (record.t === "rolled-back") this.undoneHere.push(record.stepId);
  }
}
