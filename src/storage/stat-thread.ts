/**
 * lstat on a worker thread, a batch of names per message. The main thread never blocks: the
 * worker's lstatSync calls wait in its own thread, as libuv's pool threads wait in theirs. What a
 * batch saves is libuv's cost per call (a queued request, a wake-up, a callback into JS and a
 * `Stats` object on the main thread): a million task logs' lstats took 3.2 s through the callback
 * with 64 in flight and 1.9 s on this thread (`bench/listing-floor.mjs`'s machine), with half the
 * CPU. But a batch waits one lstat after another, so on a share (a round trip each) it is slower:
 * listings choose per folder (file-ops.ts, adaptiveLstat). A second thread joins a sorted
 * listing's batches when the first is behind and the main thread has a core to spare (SpareCore).
 */
import { Worker } from "node:worker_threads";
import { threadStarted } from "./heap.js";

/** Per name in a reply: kind (MISSING, 0 other, 1 file, 2 folder), size, mtimeMs, atimeMs. */
export const FACTS_PER_NAME = 4;
export const MISSING = -1;
export const KIND_FILE = 1;
export const KIND_DIR = 2;

/**
 * The worker's code, evaluated (CommonJS): a file beside this one would not run under the test
 * runner, which loads this module as TypeScript. It first says it runs (workerData: see the
 * constructor). Names arrive NUL-joined (no file name holds a NUL: one string to clone, not an
 * array); facts are written into the caller's shared buffer. A folder read here (readNamesOnThread)
 * stays open between requests, by its handle; its names go back NUL-joined as UTF-8, in a buffer
 * handed over, not copied (a batch with a surrogate, which UTF-8 may not hold, as a string).
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const { lstatSync, opendirSync, readdirSync } = require("node:fs");
const started = new Int32Array(workerData);
Atomics.store(started, 0, 1);
Atomics.notify(started, 0);
const failed = (id, e, path = e.path) =>
  parentPort.postMessage({ id, error: { message: e.message, code: e.code, errno: e.errno, syscall: e.syscall, path } });
const folders = new Map();
let nextHandle = 0;
function readNames({ id, dirPath, handle, max }) {
  if (handle === undefined) {
    handle = nextHandle++;
    folders.set(handle, opendirSync(dirPath, { bufferSize: 1024 }));
  }
  const dir = folders.get(handle);
  try {
    const names = [];
    let done = false;
    while (names.length < max) {
      const entry = dir.readSync();
      if (entry === null) { done = true; break; }
      names.push(entry.name);
    }
    if (done) { folders.delete(handle); dir.closeSync(); }
    const joined = names.join("\\0");
    if (/[\\ud800-\\udfff]/.test(joined)) return parentPort.postMessage({ id, value: { handle, joined, done } });
    const bytes = Buffer.allocUnsafeSlow(Buffer.byteLength(joined));
    bytes.write(joined);
    parentPort.postMessage({ id, value: { handle, bytes, done } }, [bytes.buffer]);
  } catch (e) {
    folders.delete(handle);
    try { dir.closeSync(); } catch {}
    throw e;
  }
}
// lstatSync's own call into node:fs's binding, without the Stats object it then builds (with four
// Dates in Node 20): ~1 µs of the ~4.7 µs an lstat costs here. Used only once it has answered a
// file and a missing name exactly as lstatSync did; else (another Node, --pending-deprecation, under
// which process.binding warns) lstatSync is used. The values are node's own: size, then the
// seconds and nanoseconds of atime and mtime, turned into milliseconds as node's msFromTimeSpec does.
const { toNamespacedPath } = require("node:path");
let raw;
function rawLstat() {
  const b = process.binding("fs");
  return (p) => b.lstat(toNamespacedPath(p), false, undefined, false);
}
function rawFacts(v, facts, at) {
  const type = v[1] & 0o170000;
  facts[at] = type === 0o100000 ? ${KIND_FILE} : type === 0o040000 ? ${KIND_DIR} : 0;
  facts[at + 1] = v[8];
  facts[at + 2] = v[12] * 1000 + v[13] / 1000000;
  facts[at + 3] = v[10] * 1000 + v[11] / 1000000;
}
function statFacts(s, facts, at) {
  facts[at] = s.isFile() ? ${KIND_FILE} : s.isDirectory() ? ${KIND_DIR} : 0;
  facts[at + 1] = s.size;
  facts[at + 2] = s.mtimeMs;
  facts[at + 3] = s.atimeMs;
}
function proveRaw(path) {
  const flags = (process.env.NODE_OPTIONS ?? "") + " " + process.execArgv.join(" ");
  if (flags.includes("--pending-deprecation") || typeof process.binding !== "function") return void (raw = null);
  try {
    const call = rawLstat();
    const s = lstatSync(path, { throwIfNoEntry: false });
    if (s === undefined) return; // gone since it was listed: a later name proves it
    const v = call(path);
    const a = new Float64Array(8);
    statFacts(s, a, 0);
    if (v instanceof Float64Array) rawFacts(v, a, 4);
    const same = a[0] === a[4] && a[1] === a[5] && a[2] === a[6] && a[3] === a[7];
    raw = same && call(path + ".octoha-probe-missing") === undefined ? call : null;
  } catch {
    raw = null;
  }
}
function lstatInto(prefix, names, facts, took) {
  if (raw === undefined && names.length > 0) proveRaw(prefix + names[0]);
  for (let i = 0, at = 0; i < names.length; i++, at += ${FACTS_PER_NAME}) {
    const t0 = took ? performance.now() : 0;
    if (raw) {
      const v = raw(prefix + names[i]);
      if (took) took[i] = performance.now() - t0;
      if (v === undefined) facts[at] = ${MISSING};
      else rawFacts(v, facts, at);
      continue;
    }
    const s = lstatSync(prefix + names[i], { throwIfNoEntry: false });
    if (took) took[i] = performance.now() - t0;
    if (s === undefined) facts[at] = ${MISSING};
    else statFacts(s, facts, at);
  }
}
parentPort.on("message", (request) => {
  const { id } = request;
  if (request.task === "list") {
    // A small folder whole: its names and their lstats in one reply, the facts in the caller's
    // shared buffer when they fit (else in a buffer of their own, handed over).
    const { dirPath, prefix } = request;
    try {
      const began = performance.now();
      const names = readdirSync(dirPath);
      const fit = names.length * ${FACTS_PER_NAME} <= request.facts.length;
      const facts = fit ? request.facts : new Float64Array(names.length * ${FACTS_PER_NAME});
      lstatInto(prefix, names, facts);
      const ms = (performance.now() - began) / (names.length + 1);
      if (fit) parentPort.postMessage({ id, listed: { names }, ms });
      else parentPort.postMessage({ id, listed: { names, facts }, ms }, [facts.buffer]);
    } catch (e) {
      failed(id, e, e.path ?? dirPath);
    }
    return;
  }
  if (request.task === "read") {
    // opendirSync's error has no path, as fs.opendir's does.
    try { readNames(request); } catch (e) { failed(id, e, e.path ?? request.dirPath); }
    return;
  }
  if (request.task === "how") return parentPort.postMessage({ id, how: raw ? "binding" : raw === null ? "lstatSync" : "unproven" });
  if (request.task === "close") {
    const dir = folders.get(request.handle);
    folders.delete(request.handle);
    try { dir?.closeSync(); } catch {}
    parentPort.postMessage({ id });
    return;
  }
  const { prefix, joined, timed, facts } = request;
  const names = joined.split("\\0");
  const took = timed ? new Float64Array(names.length) : undefined;
  const began = performance.now();
  try {
    lstatInto(prefix, names, facts, took);
    parentPort.postMessage({ id, ms: took ? took.sort()[took.length >> 2] : (performance.now() - began) / names.length });
  } catch (e) {
    failed(id, e);
  }
});
`;

/** A process's node flags without --input-type (`--input-type=module` or `--input-type module`). */
function withoutInputType(execArgv: readonly string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    if (execArgv[i] === "--input-type") i++;
    else if (!execArgv[i]!.startsWith("--input-type=")) kept.push(execArgv[i]!);
  }
  return kept;
}

/** The worker is gone (it failed to start or died): the caller lstats another way. */
export class StatThreadGone extends Error {
  constructor(cause: unknown) {
    super(`the lstat thread stopped: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = "StatThreadGone";
  }
}

/** What `read` made of a batch's facts, and the time of its lstats on the thread's clock (not the main thread's wait). */
export interface ThreadAnswer<T> {
  value: T;
  /**
   * Per lstat: when `timed`, the lower quartile (a fresh thread's first calls are slow, and a share
   * answers none in microseconds); else the mean.
   */
  msPerName: number;
}

interface Reply {
  id: number;
  /** An lstat batch's time per name. */
  ms?: number;
  /** A folder's batch of names. */
  value?: NamesBatch;
  /** A small folder listed whole (its facts here only when they did not fit the shared buffer). */
  listed?: { names: string[]; facts?: Float64Array };
  error?: { message: string; code?: string; errno?: number; syscall?: string; path?: string };
  /** How the thread makes its lstats (LstatWay). */
  how?: LstatWay;
}

/**
 * How the lstat thread makes its lstats: node:fs's binding call (once proven on the first name it
 * was asked for), lstatSync (the proof failed, or process.binding would warn), or not decided yet.
 */
export type LstatWay = "binding" | "lstatSync" | "unproven";

interface Waiting {
  resolve: (reply: Reply) => void;
  reject: (error: Error) => void;
}

/** Names a shared facts buffer holds at least: a listing's chunk (256), or a small folder. */
const MIN_SHARED_NAMES = 256;

/** The longest the main thread waits for the lstat thread to start (it goes on without the wait). */
const START_WAIT_MS = 2000;

/** The worker, and the batches it has not answered yet. */
class StatThread {
  private readonly worker: Worker;
  private readonly waiting = new Map<number, Waiting>();
  /**
   * Shared buffers the thread writes facts into, reused: a buffer transferred per batch was 8 KB
   * outside the heap per 256 names, freed only when the collector found its wrapper (up to 16 MB
   * more at a million-file no-op's peak). One per batch in flight.
   */
  private readonly spare: Float64Array[] = [];
  private nextId = 0;
  gone: StatThreadGone | undefined;

  constructor() {
    // A small heap: it holds one batch's names. Without limits an idle isolate grows
    // young-generation space it never gives back (its RSS counts against the listing's).
    const started = new Int32Array(new SharedArrayBuffer(4));
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      // The worker's code is CommonJS: under a parent's --input-type=module (node -e scripts, the
      // tests' children) it was read as ESM and died at its first require, and every listing
      // quietly fell back to libuv.
      execArgv: withoutInputType(process.execArgv),
      workerData: started.buffer,
      resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 16 },
    });
    this.worker.unref(); // an idle thread never keeps the process alive
    // Starting a V8 isolate undoes the young generation's cap (heap.ts, threadStarted). Waiting here
    // until the thread runs (~20 ms, once a process) sets it again before the main thread allocates
    // more: set on "online" instead, the young generation had already doubled.
    Atomics.wait(started, 0, 0, START_WAIT_MS);
    threadStarted();
    this.worker.on("message", (reply: Reply) => this.settle(reply));
    this.worker.on("error", (error) => this.fail(error));
    this.worker.on("exit", (code) => this.fail(new Error(`exit code ${code}`)));
  }

  async lstat<T>(prefix: string, names: readonly string[], read: (facts: Float64Array) => T, timed: boolean): Promise<ThreadAnswer<T>> {
    if (this.gone) throw this.gone;
    const facts = this.spareFor(names.length);
    try {
      const reply = await this.ask({ task: "lstat", prefix, joined: names.join("\0"), timed, facts });
      return { value: read(facts), msPerName: reply.ms ?? 0 };
    } finally {
      this.spare.push(facts); // read (synchronous) is done with it, or the batch failed
    }
  }

  async list<T>(dirPath: string, prefix: string, read: (names: string[], facts: Float64Array) => T): Promise<ThreadAnswer<T>> {
    if (this.gone) throw this.gone;
    const facts = this.spareFor(0);
    try {
      const reply = await this.ask({ task: "list", dirPath, prefix, facts });
      if (!reply.listed) throw new StatThreadGone(new Error("a list reply without its names"));
      return { value: read(reply.listed.names, reply.listed.facts ?? facts), msPerName: reply.ms ?? 0 };
    } finally {
      this.spare.push(facts);
    }
  }

  /** How this thread makes its lstats (LstatWay). */
  async way(): Promise<LstatWay> {
    if (this.gone) throw this.gone;
    return (await this.ask({ task: "how" })).how ?? "unproven";
  }

  /** Batches sent and not answered yet. */
  busy(): number {
    return this.waiting.size;
  }

  /** A shared buffer for the facts of at least `names` names (MIN_SHARED_NAMES), reused. */
  private spareFor(names: number): Float64Array {
    const need = Math.max(names, MIN_SHARED_NAMES) * FACTS_PER_NAME;
    const facts = this.spare.pop();
    if (facts && facts.length >= need) return facts;
    if (facts) this.spare.push(facts);
    return new Float64Array(new SharedArrayBuffer(need * Float64Array.BYTES_PER_ELEMENT));
  }

  async readNames(dirPath: string, handle: number | undefined, max: number): Promise<NamesBatch> {
    if (this.gone) throw this.gone;
    const reply = await this.ask({ task: "read", dirPath, handle, max });
    if (!reply.value) throw new StatThreadGone(new Error("a names reply without its names"));
    return reply.value;
  }

  close(handle: number): void {
    if (!this.gone) this.ask({ task: "close", handle }).catch(() => undefined);
  }

  private ask(request: Record<string, unknown>): Promise<Reply> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.waiting.size === 0) this.worker.ref(); // a batch out keeps the process alive until it is answered
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ id, ...request });
    });
  }

  private settle(reply: Reply): void {
    const waiting = this.waiting.get(reply.id);
    if (!waiting) return;
    this.waiting.delete(reply.id);
    if (this.waiting.size === 0) this.worker.unref();
    if (reply.error) waiting.reject(Object.assign(new Error(reply.error.message), reply.error));
    else waiting.resolve(reply);
  }

  private fail(cause: unknown): void {
    this.gone ??= new StatThreadGone(cause);
    for (const waiting of this.waiting.values()) waiting.reject(this.gone);
    this.waiting.clear();
  }
}

let thread: StatThread | undefined;

/** The process's lstat thread, started on first use. */
function theThread(): StatThread {
  try {
    return (thread ??= new StatThread());
  } catch (error) {
    throw new StatThreadGone(error);
  }
}

/**
 * lstat facts for a batch of names on the process's lstat thread, started on first use: `read`
 * gets them (FACTS_PER_NAME apiece, in the names' order) and must not keep the array, which is
 * reused. `timed` times each lstat, for their lower quartile. `spread`: the batch may go to a
 * second thread (spreadingThread). Rejects with the lstat's own error (code, path), or with
 * StatThreadGone when the thread cannot answer.
 */
export async function lstatOnThread<T>(
  prefix: string,
  names: readonly string[],
  read: (facts: Float64Array) => T,
  timed = false,
  spread = false,
): Promise<ThreadAnswer<T>> {
  return (spread ? spreadingThread() : theThread()).lstat(prefix, names, read, timed);
}

/** Batches unanswered on the first thread when another is asked for: it is behind. */
const BEHIND_BATCHES = 3;
/** A look at the main thread's load: the first thread behind at every ask for this long. */
const LOOK_MS = 250;
/** The main thread's event loop busy at most this share of a look: a core is spare. */
const SPARE_CORE_UTILIZATION = 0.45;
/** Looks in a row that must find a core spare. */
const SPARE_LOOKS = 2;

/** The event loop's time so far, busy and idle, in milliseconds (performance.eventLoopUtilization's). */
export type LoopTimes = () => { active: number; idle: number };

/**
 * Whether a second lstat thread would pay: the first has been behind (BEHIND_BATCHES unanswered at
 * every ask) for SPARE_LOOKS looks of LOOK_MS while the main thread mostly waited for it (its event
 * loop busy under SPARE_CORE_UTILIZATION of each). A million-file dry-run's second phase was one
 * lstat after another on one thread, the main thread's loop busy 0.32-0.49 of each look: with a
 * second thread it took 0.90x the time (farm-bench in turns). A no-op's main thread is busy
 * comparing (0.57-0.75 a look, same folder): there the second thread, ~10 MiB of RSS, made it no
 * faster and its peak passed 200 MB.
 */
export class SpareCore {
  private since: { active: number; idle: number } | undefined;
  private spareLooks = 0;

  constructor(private readonly loopTimes: LoopTimes = () => performance.eventLoopUtilization()) {}

  /** Asked per batch that may be spread, with the first thread's unanswered batches. */
  found(firstBusy: number): boolean {
    const now = this.loopTimes();
    if (firstBusy < BEHIND_BATCHES || !this.since) {
      this.since = now;
      this.spareLooks = 0;
      return false;
    }
    const active = now.active - this.since.active;
    const idle = now.idle - this.since.idle;
    if (active + idle < LOOK_MS) return false;
    this.since = now;
    this.spareLooks = active <= SPARE_CORE_UTILIZATION * (active + idle) ? this.spareLooks + 1 : 0;
    return this.spareLooks >= SPARE_LOOKS;
  }
}

let second: StatThread | undefined;
const spareCore = new SpareCore();

/**
 * The thread for a batch that may be spread: the first, until SpareCore finds that a second would
 * pay; then each batch goes to the one with fewer unanswered.
 */
function spreadingThread(): StatThread {
  const first = theThread();
  if (second) return second.gone || first.busy() <= second.busy() ? first : second;
  if (!spareCore.found(first.busy())) return first;
  try {
    second = new StatThread();
  } catch {
    return first;
  }
  return second;
}

/**
 * A small folder's names and their lstats, read whole on the lstat thread: one message instead of
 * libuv's readdir and an lstat request per name, each a wake-up of a pool thread and a callback on
 * the main thread. `read` gets the names in readdir's order and their facts (FACTS_PER_NAME apiece,
 * in that order) and must not keep the array, which is reused. msPerName is the thread's time per
 * call (the readdir and each lstat). Rejects with the readdir's or an lstat's own error (code,
 * path), or with StatThreadGone.
 */
export async function listOnThread<T>(
  dirPath: string,
  prefix: string,
  read: (names: string[], facts: Float64Array) => T,
): Promise<ThreadAnswer<T>> {
  return theThread().list(dirPath, prefix, read);
}

/** A batch of a folder's names from the lstat thread: NUL-joined, as UTF-8 bytes or (with a surrogate) a string. */
export interface NamesBatch {
  /** The folder, open on the thread until `done` (or closeNamesOnThread). */
  handle: number;
  bytes?: Uint8Array;
  joined?: string;
  /** The folder has no more names (the thread has closed it). */
  done: boolean;
}

/**
 * Up to `max` names of a folder, read on the lstat thread: the first batch opens it (handle
 * undefined), the next ones go on from its handle. The main thread's own reading (Dir#read) costs
 * a tick and a callback per name, ~1 s of a million-name folder there; the thread's synchronous
 * reads are the same readdir calls, one after another as libuv's are. Rejects with the readdir's
 * own error (code, path), or with StatThreadGone when the thread cannot answer.
 */
export async function readNamesOnThread(dirPath: string, handle: number | undefined, max: number): Promise<NamesBatch> {
  return theThread().readNames(dirPath, handle, max);
}

/** How the process's lstat thread makes its lstats (LstatWay). */
export function lstatWayOnThread(): Promise<LstatWay> {
  return theThread().way();
}

/** Close a folder readNamesOnThread left open (a listing stopped early). */
export function closeNamesOnThread(handle: number): void {
  thread?.close(handle);
}
