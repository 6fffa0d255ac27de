/**
 * End-to-end harness: the stand-in runs in the test process (so it outlives a SIGKILLed octoha),
 * octoha runs as `node dist/cli/main.js VERB PLAN --yes --json` with the plan's secrets in its
 * environment, and the test reads the cluster's state and the bytes on disk afterwards.
 *
 * octohaInProcess runs the same verb in the test process (no node start, modules loaded once) and
 * simulates a kill at a journal record through the runner's journal hook: the record is on disk,
 * nothing after it is journaled and the run stops there. The real SIGKILL path (octoha with killOn)
 * stays covered by a few child-process kills per workflow.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { demoPlan } from "../../src/demo/demo.js";
import { startStandin, type RunningStandin } from "@octoha/standin";
import type { SimFolders } from "@octoha/standin";
import { Writable } from "node:stream";
import { expect } from "vitest";
import { CLI } from "../helpers/cli.js";
import { readJsonStdout } from "../helpers/envelope.js";
import { readJournal, type JournalRecord } from "../../src/runner/journal.js";
import { lockFile } from "../../src/runner/lock.js";
import { continueRun, runWorkflow } from "../../src/operations/apply.js";
import { OctohaError } from "../../src/shared/errors.js";

export type Workflow = "migrate" | "repair";

/** A non-default starting point: the run must put exactly this back. */
export interface BeforeState {
  maintenance?: boolean;
  nodes?: Record<string, { isDraining?: boolean; maxConcurrentTasks?: number }>;
}

export interface CaseOptions {
  /** Completed tasks per node in the synthetic history. */
  tasksPerNode?: number;
  before?: BeforeState;
  /** Extra files written onto each node's local Artifacts folder (name → bytes), e.g. to make a copy step long. */
  extraArtifacts?: (node: string) => Record<string, Buffer>;
  /** "auto": the plan approves its gates in advance; "required": gates need --yes. */
  approvals?: "auto" | "required";
  /**
   * How long a started node answers 503 before it serves (default 300 ms; the stand-in's own default is 2 s).
   * A node is still never ready at once, so the start wait is still exercised.
   */
  startupMs?: number;
}

export interface E2eCase {
  dir: string;
  planFile: string;
  stateDir: string;
  standin: RunningStandin;
  env: NodeJS.ProcessEnv;
  close(): Promise<void>;
}

export interface ChildEvent {
  type: string;
  stepId?: string;
  alreadyApplied?: boolean;
  event?: { data?: Record<string, unknown> };
  [key: string]: unknown;
}

/** What a test reads of a run's outcome (the result of its --json envelope). */
export interface ChildOutcome {
  status: string;
  exitCode: number;
  runId: string;
  undoProblems?: { stepId: string; kind: string; reason: string }[];
  undone?: string[];
  nextCommand?: string;
  partialRollbackCommand?: string;
}

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The --json progress events (the envelope is not one of them). */
  events: ChildEvent[];
  /** The run's outcome: the envelope's result, absent when the run was killed before it printed one. */
  outcome?: ChildOutcome;
  stdout: string;
  stderr: string;
  /** The event the child was killed on, when it was. */
  killedOn?: ChildEvent;
  /** In-process runs: the journal record the simulated kill happened at, when it did. */
  simulatedKillAt?: SimulatedKillAt;
}

export interface SimulatedKillAt {
  stateDir: string;
  runId: string;
  record: JournalRecord;
  spec: KillSpec;
  /**
   * What the run still did after the kill point, that a killed process could not have: calls the stand-in
   * received, files changed under the case's folder (journal, state, nodes, shared), output printed. Empty
   * when the simulated kill was as hard as a real one.
   */
  effectsAfterKill: string[];
}

let cases = 0;

/** A fresh two-node cluster with node-local folders (the classic misconfiguration) and a plan for it. */
export async function startCase(o: CaseOptions = {}): Promise<E2eCase> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "octoha-e2e-"));
  const standin = await startStandin({
    dataDir: path.join(dir, "cluster"),
    nodes: 2,
    seedTasks: o.tasksPerNode ?? 8,
    startupMs: o.startupMs ?? 300,
  });
  try {
    const { cluster } = standin;
    if (o.extraArtifacts) {
      for (const n of cluster.nodes()) {
        for (const [name, bytes] of Object.entries(o.extraArtifacts(n.name))) {
          const local = cluster.resolvePath(n.name, `C:\\Octopus\\Artifacts\\Spaces-1\\${name}`)!;
          await writeBytes(local, bytes);
        }
      }
    }
    if (o.before?.maintenance !== undefined) cluster.setMaintenanceMode(o.before.maintenance);
    for (const [name, change] of Object.entries(o.before?.nodes ?? {})) cluster.updateNode(name, change);
    const stateDir = path.join(dir, "state");
    const plan = demoPlan(standin, stateDir);
    plan.options = {
      ...plan.options,
      drainTimeoutMinutes: 1,
      logHandleWaitSeconds: 0,
      verifySampleSize: 4,
      approvals: o.approvals ?? "required",
    };
    // Secret variables named per case: in-process runs read them from this process's environment,
    // and cases running at the same time must not see each other's.
    const n = ++cases;
    const secrets = {
      [`OCTOHA_E2E_${n}_API_KEY`]: standin.apiKey,
      [`OCTOHA_E2E_${n}_SQL_CONNECTION_STRING`]: standin.sqlConnectionString ?? "",
    };
    const [keyEnv, sqlEnv] = Object.keys(secrets) as [string, string];
    plan.octopus.apiKey = { env: keyEnv };
    plan.octopus.sql.connectionString = { env: sqlEnv };
    const planFile = path.join(dir, "plan.json");
    await writeFile(planFile, `${JSON.stringify(plan, null, 2)}\n`);
    const env: NodeJS.ProcessEnv = { ...baseEnv(), ...secrets };
    Object.assign(process.env, secrets);
    return {
      dir,
      planFile,
      stateDir,
      standin,
      env,
      async close() {
        for (const name of Object.keys(secrets)) delete process.env[name];
        await standin.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await standin.close();
    throw error;
  }
}

async function writeBytes(file: string, bytes: Buffer): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, bytes);
}

function baseEnv(): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(OCTOPUS_|OCTOHA_)/.test(k)) out[k] = v;
  return out;
}

/** Where the child kills itself: right after this --json event (see fixtures/kill-on-event.mjs). */
export interface KillSpec {
  type: "step-applied" | "step-verified" | "mid-copy" | "step-message";
  /** step-message: a step event whose message contains this. */
  message?: string;
  /** Without it, the first matching event. */
  stepId?: string;
  /** mid-copy: the folder kind being copied. */
  kind?: string;
}

const KILL_FIXTURE = fileURLToPath(new URL("./fixtures/kill-on-event.mjs", import.meta.url));
const KILL_ON_OPEN_FIXTURE = fileURLToPath(new URL("./fixtures/kill-on-open.mjs", import.meta.url));

/** Where the child kills itself: right after it opens (or links into place) a file with this name ending (see fixtures/kill-on-open.mjs). */
export interface KillOnOpenSpec {
  suffix: string;
  call?: "open" | "link";
}

export interface OctohaOptions {
  /** The child SIGKILLs itself right after writing this event. */
  killOn?: KillSpec;
  /** The child SIGKILLs itself right after creating this file. */
  killOnOpen?: KillOnOpenSpec;
  /** Without --yes (gates stop the run, exit 3). */
  noYes?: boolean;
  timeoutMs?: number;
  /** More arguments after the plan (e.g. --remove-copies). */
  args?: string[];
}

/** `octoha VERB PLAN --yes --json` as a child process; --json events parsed as they arrive. */
export function octoha(c: E2eCase, verb: "run" | "repair" | "resume" | "rollback", o: OctohaOptions = {}): Promise<ChildResult> {
  const preload = [...(o.killOn ? ["--import", KILL_FIXTURE] : []), ...(o.killOnOpen ? ["--import", KILL_ON_OPEN_FIXTURE] : [])];
  const args = [...preload, CLI, verb, c.planFile, "--json", ...(o.noYes ? [] : ["--yes"]), ...(o.args ?? [])];
  const env = {
    ...c.env,
    ...(o.killOn ? { E2E_KILL_ON: JSON.stringify(o.killOn) } : {}),
    ...(o.killOnOpen ? { E2E_KILL_ON_OPEN: JSON.stringify(o.killOnOpen) } : {}),
  };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), o.timeoutMs ?? 120_000);
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const read = readJsonStdout(stdout, verb, code);
      const events = read.events as ChildEvent[];
      const result = read.result as ChildOutcome | undefined;
      resolve({
        code,
        signal,
        events,
        ...(result ? { outcome: result } : {}),
        stdout,
        stderr,
        ...(o.killOn && signal === "SIGKILL" && events.length ? { killedOn: events[events.length - 1]! } : {}),
      });
    });
  });
}

export interface InProcessOptions {
  /** The flags the command line would pass for these options, e.g. { removeCopies: true } for rollback --remove-copies. */
  flags?: Record<string, boolean>;
}

/** Thrown by the journal hook at the planned record: the in-process run stops there as if killed. */
class SimulatedKill extends Error {}

/** The journal record right before the --json event KillSpec names (the runner writes the event once the record is on disk). */
function killRecordMatches(spec: KillSpec, r: JournalRecord): boolean {
  if (spec.stepId !== undefined && (!("stepId" in r) || r.stepId !== spec.stepId)) return false;
  return (spec.type === "step-applied" && r.t === "applied") || (spec.type === "step-verified" && r.t === "verified");
}

/**
 * `octoha VERB PLAN --json [--yes]` in this process, with the result shaped as a child's. killOn
 * (step-applied / step-verified only; a kill in the middle of a copy needs a real child) stops the
 * run right after that journal record, as a kill -9 would leave it.
 */
export async function octohaInProcess(
  c: E2eCase,
  verb: "run" | "repair" | "resume" | "rollback",
  o: Omit<OctohaOptions, "timeoutMs" | "args"> & InProcessOptions = {},
): Promise<ChildResult> {
  if (o.killOn?.type === "mid-copy") throw new Error("a kill in the middle of a copy needs a real child process: use octoha()");
  let stdout = "";
  let stderr = "";
  const sink = (append: (text: string) => void) =>
    new Writable({ write: (chunk: Buffer | string, _enc, done) => (append(String(chunk)), done()) });
  const streams = { out: sink((t) => (stdout += t)), err: sink((t) => (stderr += t)) };
  const kill = new SimulatedKill(`simulated kill at ${JSON.stringify(o.killOn)}`);
  let killedAt: JournalRecord | undefined;
  let atKill: CaseObservation | undefined;
  const spec = o.killOn;
  const hooks = spec
    ? {
        afterJournalWrite: (_count: number, record: JournalRecord) => {
          if (killedAt || !killRecordMatches(spec, record)) return;
          killedAt = record;
          // Synchronously, at the instant of the "kill": everything after this is what a real kill would not do.
          atKill = observeCase(c, stdout);
          throw kill;
        },
      }
    : undefined;
  const approve = o.noYes ? ("no" as const) : ("yes" as const);
  const common = { approve, json: true, signal: new AbortController().signal, streams, ...(hooks ? { hooks } : {}) };
  let code: number | null = null;
  let result: ChildOutcome | undefined;
  try {
    const outcome =
      verb === "run" || verb === "repair"
        ? await runWorkflow({
            workflow: verb === "run" ? "migrate" : "repair",
            planFile: c.planFile,
            flags: { cancelTasks: false, verifyAll: false, ...o.flags },
            ...common,
          })
        : await continueRun({ mode: verb, planFile: c.planFile, ...common, ...(o.flags ? { flags: o.flags } : {}) });
    code = outcome.exitCode;
    // The command line prints the outcome as the verb's result, in the envelope: as a child's, it is the outcome.
    result = outcome;
  } catch (error) {
    if (error !== kill) {
      // As the CLI maps it: a known error carries its exit code, anything else is 1.
      code = error instanceof OctohaError ? error.exitCode : 1;
      stderr += `octoha: ${error instanceof Error ? error.message : String(error)}\n`;
    }
  }
  const events = parseEvents(stdout);
  const started = events.find((e) => e.type === "run-started") as { runId?: string; stateDir?: string } | undefined;
  const stopped = killedAt && spec && code === null && started?.runId && started.stateDir;
  // Work the run left behind without awaiting it (a timer, a poll) would show up a moment later.
  if (atKill) await new Promise((resolve) => setTimeout(resolve, AFTER_KILL_GRACE_MS));
  const effectsAfterKill = atKill ? effectsBetween(atKill, observeCase(c, stdout)) : [];
  const simulatedKillAt = stopped
    ? { stateDir: started.stateDir!, runId: started.runId!, record: killedAt!, spec: spec!, effectsAfterKill }
    : undefined;
  return {
    code,
    signal: null,
    events,
    ...(result ? { outcome: result } : {}),
    stdout,
    stderr,
    ...(simulatedKillAt ? { simulatedKillAt } : {}),
  };
}

const AFTER_KILL_GRACE_MS = 100;

/** What a killed process can no longer change, observed synchronously (the journal hook cannot await). */
export interface CaseObservation {
  httpRequests: number;
  sqlMessages: number;
  octopus: string;
  /** relPath under the case folder → SHA-256 (files) or "dir"; the state lock is left out (see below). */
  tree: Record<string, string>;
  printed: number;
}

/**
 * The state lock (<stateDir>/lock.json) and its temp files are left out: an in-process run releases it (and
 * finishes a heartbeat's write) as its promise unwinds, a killed process leaves them stale. That difference is covered by the real SIGKILL runs each kill test keeps.
 */
export function observeCase(c: E2eCase, stdout: string): CaseObservation {
  const tree = hashTreeSync(c.dir);
  const lock = path.relative(c.dir, lockFile(c.stateDir)).split(path.sep).join("/");
  // Its temp files too (`lock.json.<host>-<pid>-<random>.tmp`): a heartbeat in flight at the kill point
  // renames or removes its own as the in-process run unwinds, where a killed process leaves it for the next holder.
  for (const p of Object.keys(tree)) if (p === lock || (p.startsWith(`${lock}.`) && p.endsWith(".tmp"))) delete tree[p];
  return {
    httpRequests: c.standin.http.requestsReceived(),
    sqlMessages: c.standin.sqlRequestsReceived?.() ?? 0,
    octopus: JSON.stringify(octopusState(c.standin)),
    tree,
    printed: stdout.length,
  };
}

/** Every difference between two observations of a case, as a line a failure message can show. */
export function effectsBetween(before: CaseObservation, after: CaseObservation): string[] {
  const out: string[] = [];
  const grew = (what: string, n: number) => n !== 0 && out.push(`${what}: ${n} after the kill point`);
  grew("HTTP requests the stand-in received", after.httpRequests - before.httpRequests);
  grew("SQL messages the stand-in received", after.sqlMessages - before.sqlMessages);
  grew("characters printed", after.printed - before.printed);
  if (after.octopus !== before.octopus) out.push(`Octopus state changed: ${before.octopus} -> ${after.octopus}`);
  for (const p of new Set([...Object.keys(before.tree), ...Object.keys(after.tree)])) {
    const [b, a] = [before.tree[p], after.tree[p]];
    if (b !== a) out.push(`${p} ${b === undefined ? "created" : a === undefined ? "removed" : "changed"} after the kill point`);
  }
  return out;
}

/** hashTree's synchronous twin, with directories listed too ("dir"): empty folders created or removed count. */
export function hashTreeSync(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string, rel: string): void => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw error;
    }
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        out[r] = "dir";
        walk(path.join(dir, e.name), r);
      } else
        out[r] = createHash("sha256")
          .update(readFileSync(path.join(dir, e.name)))
          .digest("hex");
    }
  };
  walk(root, "");
  return out;
}

function parseEvents(stdout: string): ChildEvent[] {
  return stdout.split("\n").flatMap((line) => {
    try {
      return line.trim() ? [JSON.parse(line) as ChildEvent] : [];
    } catch {
      return [];
    }
  });
}

/** What a failure message needs to know about a child: exit, stderr tail, last events. */
export const describeChild = (r: ChildResult) =>
  `exit ${r.code} signal ${r.signal}\nstderr: ${r.stderr.slice(-1500)}\nlast events: ${r.events
    .slice(-3)
    .map((e) => JSON.stringify(e).slice(0, 400))
    .join("\n")}`;

/** The child died of its own kill, on the planned event (the last one it wrote). */
export function expectKilledAtPlannedPoint(r: ChildResult, where: string): void {
  expect(r.signal, `${where}: the child was not killed at the planned point\n${describeChild(r)}`).toBe("SIGKILL");
}

/**
 * A real kill as expectKilledAtPlannedPoint checks it, or an in-process run that stopped at the
 * planned journal record with that record the last one in the journal on disk.
 */
export async function expectStoppedAtPlannedPoint(r: ChildResult, where: string): Promise<void> {
  if (r.signal === "SIGKILL") return expectKilledAtPlannedPoint(r, where);
  expect(r.simulatedKillAt, `${where}: the run did not stop at the planned point\n${describeChild(r)}`).toBeDefined();
  const { stateDir, runId, record, spec } = r.simulatedKillAt!;
  expect({ t: record.t, stepId: "stepId" in record ? record.stepId : undefined }, `${where}: stopped at another record`).toEqual({
    t: spec.type === "step-applied" ? "applied" : "verified",
    stepId: spec.stepId ?? ("stepId" in record ? record.stepId : undefined),
  });
  const { records } = await readJournal(stateDir, runId);
  expect(records.at(-1), `${where}: the journal goes on past the simulated kill`).toEqual(record);
  expect(r.simulatedKillAt!.effectsAfterKill, `${where}: the run went on after the simulated kill`).toEqual([]);
}

export const verbFor = (w: Workflow) => (w === "migrate" ? "run" : "repair");

/** Step ids in the order the run announced them. */
export function stepIdsOf(r: ChildResult): string[] {
  const started = r.events.find((e) => e.type === "run-started") as { steps?: { id: string }[] } | undefined;
  return (started?.steps ?? []).map((s) => s.id);
}

/** The Octopus side of the state: what a run must restore or leave as an uninterrupted run leaves it. */
export interface OctopusState {
  maintenance: boolean;
  folders: SimFolders;
  nodes: { name: string; isDraining: boolean; maxConcurrentTasks: number; running: boolean; effectiveFolders: SimFolders }[];
}

export function octopusState(s: RunningStandin): OctopusState {
  const st = s.cluster.state();
  return {
    maintenance: st.isInMaintenanceMode,
    folders: st.folders,
    nodes: st.nodes.map((n) => ({
      name: n.name,
      isDraining: n.isDraining,
      maxConcurrentTasks: n.maxConcurrentTasks,
      running: n.running,
      effectiveFolders: n.effectiveFolders,
    })),
  };
}

/** relPath → SHA-256 of every file under `root` (relative to it), sorted. Missing root: empty. */
export async function hashTree(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (dir: string, rel: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw error;
    }
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(path.join(dir, e.name), r);
      else
        out[r] = createHash("sha256")
          .update(await readFile(path.join(dir, e.name)))
          .digest("hex");
    }
  };
  await walk(root, "");
  return out;
}

/** Every directory under root (relative), to tell "removed" from "left empty". */
export async function listDirs(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, rel: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const r = rel ? `${rel}/${e.name}` : e.name;
      out.push(r);
      await walk(path.join(dir, e.name), r);
    }
  };
  await walk(root, "");
  return out.sort();
}

export const sharedRoot = (c: E2eCase) => path.join(c.standin.dataDir, "shared");
export const nodesRoot = (c: E2eCase) => path.join(c.standin.dataDir, "nodes");

/** The whole observable end state: Octopus, the shared folders (bytes), the nodes' own folders (bytes). */
export async function endState(
  c: E2eCase,
): Promise<{ octopus: OctopusState; shared: Record<string, string>; nodes: Record<string, string> }> {
  return { octopus: octopusState(c.standin), shared: await hashTree(sharedRoot(c)), nodes: await hashTree(nodesRoot(c)) };
}

/** Seeded randomness (the stand-in's own PRNG), so every choice is reproducible from the printed seed. */
export { xorshift as prng } from "@octoha/standin";
