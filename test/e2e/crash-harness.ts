/**
 * End-to-end harness: the stand-in runs in the test process (so it outlives a SIGKILLed octoha),
 * octoha runs as `node dist/cli/main.js VERB PLAN --yes --json` with the plan's secrets in its
 * environment, and the test reads the cluster's state and the bytes on disk afterwards.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { demoPlan } from "../../src/standin/demo.js";
import { startStandin, type RunningStandin } from "../../src/standin/standin.js";
import type { SimFolders } from "../../src/standin/model.js";
import { expect } from "vitest";
import { CLI } from "../helpers/cli.js";

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
  outcome?: {
    status: string;
    exitCode: number;
    runId: string;
    undoProblems?: { stepId: string; kind: string; reason: string }[];
    undone?: string[];
    nextCommand?: string;
    partialRollbackCommand?: string;
  };
  [key: string]: unknown;
}

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  events: ChildEvent[];
  stdout: string;
  stderr: string;
  /** The event the child was killed on, when it was. */
  killedOn?: ChildEvent;
}

/** A fresh two-node cluster with node-local folders (the classic misconfiguration) and a plan for it. */
export async function startCase(o: CaseOptions = {}): Promise<E2eCase> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "octoha-e2e-"));
  const standin = await startStandin({ dataDir: path.join(dir, "cluster"), nodes: 2, seedTasks: o.tasksPerNode ?? 8 });
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
    plan.options = { ...plan.options, drainTimeoutMinutes: 1, logHandleWaitSeconds: 0, verifySampleSize: 4, approvals: o.approvals ?? "required" };
    const planFile = path.join(dir, "plan.json");
    await writeFile(planFile, `${JSON.stringify(plan, null, 2)}\n`);
    const env: NodeJS.ProcessEnv = { ...baseEnv(), OCTOHA_DEMO_API_KEY: standin.apiKey, OCTOHA_DEMO_SQL_CONNECTION_STRING: standin.sqlConnectionString ?? "" };
    return {
      dir,
      planFile,
      stateDir,
      standin,
      env,
      async close() {
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
  type: "step-applied" | "step-verified" | "mid-copy";
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
  const env = { ...c.env, ...(o.killOn ? { E2E_KILL_ON: JSON.stringify(o.killOn) } : {}), ...(o.killOnOpen ? { E2E_KILL_ON_OPEN: JSON.stringify(o.killOnOpen) } : {}) };
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
      const events = stdout.split("\n").flatMap((line) => {
        try {
          return line.trim() ? [JSON.parse(line) as ChildEvent] : [];
        } catch {
          return [];
        }
      });
      resolve({ code, signal, events, stdout, stderr, ...(o.killOn && signal === "SIGKILL" && events.length ? { killedOn: events[events.length - 1]! } : {}) });
    });
  });
}

/** What a failure message needs to know about a child: exit, stderr tail, last events. */
export const describeChild = (r: ChildResult) => `exit ${r.code} signal ${r.signal}\nstderr: ${r.stderr.slice(-1500)}\nlast events: ${r.events.slice(-3).map((e) => JSON.stringify(e).slice(0, 400)).join("\n")}`;

/** The child died of its own kill, on the planned event (the last one it wrote). */
export function expectKilledAtPlannedPoint(r: ChildResult, where: string): void {
  expect(r.signal, `${where}: the child was not killed at the planned point\n${describeChild(r)}`).toBe("SIGKILL");
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
    nodes: st.nodes.map((n) => ({ name: n.name, isDraining: n.isDraining, maxConcurrentTasks: n.maxConcurrentTasks, running: n.running, effectiveFolders: n.effectiveFolders })),
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
      else out[r] = createHash("sha256").update(await readFile(path.join(dir, e.name))).digest("hex");
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
export async function endState(c: E2eCase): Promise<{ octopus: OctopusState; shared: Record<string, string>; nodes: Record<string, string> }> {
  return { octopus: octopusState(c.standin), shared: await hashTree(sharedRoot(c)), nodes: await hashTree(nodesRoot(c)) };
}

/** Seeded randomness (the stand-in's own PRNG), so every choice is reproducible from the printed seed. */
export { xorshift as prng } from "../../src/standin/prng.js";
