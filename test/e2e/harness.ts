/**
 * End-to-end scenarios: the stand-in cluster runs in the test process, octoha runs as the operator
 * runs it (`node dist/cli/main.js … --json`), against a plan written for that cluster.
 */
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import os from "node:os";
import { afterEach, vi } from "vitest";
import path from "node:path";
import { demoPlan } from "../../src/demo/demo.js";
import { startStandin, type RunningStandin, type StandinOptions } from "@octoha/standin";
import type { PlanInput } from "../../src/plan/schema.js";
import type { RunOutcome } from "../../src/model/run.js";
import type { ListenerFaults } from "@octoha/standin";
import type { RunReport } from "../../src/report/run-report.js";
import { indexSteps, readJournal } from "../../src/runner/journal.js";
import { cleanEnv, runCliChild, type CliResult } from "../helpers/cli.js";
import { runCliInProcess } from "../helpers/in-process-cli.js";
import { readJsonStdout, type Envelope } from "../helpers/envelope.js";

export interface CliRun extends CliResult {
  /** The JSON lines printed on stdout before the envelope (a run's progress events). */
  lines: Record<string, unknown>[];
  /** The --json envelope (stdout's last line), checked to name the verb and the exit code. */
  envelope: Envelope | undefined;
  /** The envelope's result (a dry-run or check report, a run's outcome …). */
  result: unknown;
  /** The run's outcome (the result of run, repair, resume, rollback). */
  outcome: RunOutcome | undefined;
}

const RUN_VERBS = new Set(["run", "repair", "resume", "rollback"]);

export interface Scenario {
  root: string;
  standin: RunningStandin;
  plan: PlanInput;
  planFile: string;
  stateDir: string;
  cli(...args: string[]): Promise<CliRun>;
  /** The same, with these variables changed in octoha's environment (undefined removes one). */
  cliWithEnv(changes: Record<string, string | undefined>, ...args: string[]): Promise<CliRun>;
  /** report.json of a run (beside its journal). */
  runReport(outcome: RunOutcome | undefined): Promise<RunReport>;
  close(): Promise<void>;
}

export interface ScenarioOptions {
  standin?: Partial<StandinOptions>;
  options?: Partial<PlanInput["options"]>;
  /** Adjust the plan before it is written (e.g. a single-node migration). */
  editPlan?: (plan: PlanInput, root: string) => void;
  /** Extra variables in octoha's environment (they win over the plan's secrets). */
  env?: Record<string, string> | ((standin: RunningStandin) => Record<string, string>);
  /**
   * "child": octoha runs as `node dist/cli/main.js`, for tests whose subject is the process (its exit, its
   * environment, another process holding a lock). Default "in-process": the same command line in this process.
   */
  octoha?: "child" | "in-process";
}

export const E2E_TIMEOUT_MS = 180_000;

/** startScenario for one test file: every scenario it started is closed (and its temp dir removed) after each test. */
export function scenarios(): (o?: ScenarioOptions) => Promise<Scenario> {
  // Each scenario runs octoha two or three times as a child process; on a busy 2-core machine that takes more than the default minute.
  vi.setConfig({ testTimeout: E2E_TIMEOUT_MS });
  const open: Scenario[] = [];
  afterEach(async () => {
    while (open.length) await open.pop()!.close();
  });
  return async (o) => {
    const s = await startScenario(o);
    open.push(s);
    return s;
  };
}

export async function startScenario(o: ScenarioOptions = {}): Promise<Scenario> {
  const root = await mkdtemp(path.join(os.tmpdir(), "octoha-e2e-"));
  // Nodes answer 503 for 300 ms after a start (the stand-in's default is 2 s): the start wait is still
  // exercised, without seconds of sleep per test. Tests about that wait set their own (start-services).
  const standin = await startStandin({
    dataDir: path.join(root, "cluster"),
    nodes: 2,
    seedTasks: 3,
    taskDurationMs: 1_000,
    startupMs: 300,
    ...o.standin,
  });
  const stateDir = path.join(root, "plan", "state");
  const plan = demoPlan(standin, stateDir);
  // Short waits: nothing writes logs after the drain in the stand-in, and no handle lingers.
  plan.options = { ...plan.options, drainTimeoutMinutes: 1, logHandleWaitSeconds: 0, verifySampleSize: 50, ...o.options };
  o.editPlan?.(plan, root);
  const planFile = path.join(root, "plan", "plan.json");
  await mkdir(path.dirname(planFile), { recursive: true });
  await writeFile(planFile, `${JSON.stringify(plan, null, 2)}\n`);
  const env = cleanEnv({
    [plan.octopus.apiKey!.env]: standin.apiKey,
    [plan.octopus.sql.connectionString.env]: standin.sqlConnectionString ?? "",
    ...(typeof o.env === "function" ? o.env(standin) : o.env),
  });

  return {
    root,
    standin,
    plan,
    planFile,
    stateDir,
    cli: (...args) => runCliJson(args, env, o.octoha),
    cliWithEnv: (changes, ...args) => runCliJson(args, { ...env, ...changes }, o.octoha),
    async runReport(outcome) {
      if (!outcome) throw new Error("no run outcome to read the report of");
      return JSON.parse(await readFile(path.join(path.dirname(outcome.journal), "report.json"), "utf8")) as RunReport;
    },
    async close() {
      await standin.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

async function runCliJson(args: string[], env: NodeJS.ProcessEnv, octoha: ScenarioOptions["octoha"] = "in-process"): Promise<CliRun> {
  const { code, stdout, stderr } =
    octoha === "child" ? await runCliChild(args, { env, timeoutMs: 120_000 }) : await runCliInProcess(args, env);
  const verb = args[0] ?? "";
  const { events, envelope, result } = readJsonStdout(stdout, verb, code);
  const outcome = RUN_VERBS.has(verb) ? (result as RunOutcome | undefined) : undefined;
  return { code, stdout, stderr, lines: events, envelope, result, outcome };
}

export interface FileFacts {
  sha256: string;
  size: number;
}

/** Every regular file under root by '/' relative path (skipping the given top-level names). */
export function treeOf(root: string, skipTop: string[] = [".octoha"]): Map<string, FileFacts> {
  const out = new Map<string, FileFacts>();
  if (!existsSync(root)) return out;
  const walk = (rel: string): void => {
    for (const d of readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${d.name}` : d.name;
      if (!rel && skipTop.includes(d.name)) continue;
      if (d.isDirectory()) walk(r);
      else {
        const bytes = readFileSync(path.join(root, r));
        out.set(r, { sha256: createHash("sha256").update(bytes).digest("hex"), size: bytes.length });
      }
    }
  };
  walk("");
  return out;
}

/** Files, sizes, hashes and mtimes of everything under root: "nothing was written" compares two of these. */
export function fullSnapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string): void => {
    for (const d of readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${d.name}` : d.name;
      const abs = path.join(root, r);
      if (d.isDirectory()) {
        out[`${r}/`] = "dir";
        walk(r);
      } else out[r] = `${statSync(abs).size}:${statSync(abs).mtimeMs}:${createHash("sha256").update(readFileSync(abs)).digest("hex")}`;
    }
  };
  walk("");
  return out;
}

/** A node's local Octopus folder of one kind, as the demo plan spells it. */
export function nodeFolder(s: Scenario, node: string, kind: "TaskLogs" | "Artifacts" | "Packages"): string {
  return path.join(s.standin.dataDir, "nodes", node, "C", "Octopus", kind);
}

export function sharedFolder(s: Scenario, kind: "TaskLogs" | "Artifacts" | "Packages"): string {
  return path.join(s.standin.dataDir, "shared", kind);
}

/** Waits (bounded) until the cluster says so; the stand-in's clock follows wall time. */
export async function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** GET /api/tasks/{id}/raw through one node's own URL: the status and body an operator's browser would get. */
export async function rawLogVia(s: Scenario, node: string, taskId: string): Promise<{ status: number; body: string }> {
  const url = s.standin.nodes.find((n) => n.name === node)?.url;
  if (!url) throw new Error(`no node ${node}`);
  const res = await fetch(`${url.replace(/\/$/, "")}/api/tasks/${taskId}/raw`, { headers: { "X-Octopus-ApiKey": s.standin.apiKey } });
  return { status: res.status, body: await res.text() };
}

/** Every completed task's log through every node: the list of "task via node" that failed. */
export async function unreadableLogs(s: Scenario): Promise<string[]> {
  const failed: string[] = [];
  for (const t of s.standin.cluster.tasks().filter((x) => x.completedTime !== null)) {
    for (const n of s.standin.nodes) {
      const r = await rawLogVia(s, n.name, t.id);
      if (r.status !== 200 || r.body.length === 0) failed.push(`${t.id} via ${n.name} (${r.status})`);
    }
  }
  return failed;
}

/** What a step of a run returned, from the run's journal. */
export async function stepResult<T>(s: Scenario, outcome: RunOutcome | undefined, stepId: string): Promise<T | undefined> {
  if (!outcome) throw new Error("no run outcome");
  const steps = indexSteps((await readJournal(outcome.stateDir, outcome.runId)).records);
  return steps.get(stepId)?.result as T | undefined;
}

/** Starts the storm on the load-balanced URL the moment the run drains the first node. */
export function stormOnDrain(s: Scenario, faults: ListenerFaults): void {
  const { cluster, http } = s.standin;
  let started = false;
  cluster.onChange(() => {
    if (started || !cluster.nodes().some((n) => n.isDraining)) return;
    started = true;
    http.setFaults("lb", faults);
  });
}
