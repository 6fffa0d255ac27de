/**
 * Test doubles for step tests: a copy engine that really copies files between temp dirs (so tests
 * check bytes on disk), a recording StepContext on a fake clock, a tiny in-test runner loop, and
 * a plan whose folders are temp dirs.
 */
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, statfs, utimes, writeFile, appendFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { CopyEngine, TargetCheck } from "../../src/steps/deps.js";
import type { CopyOptions, CopySummary } from "../../src/storage/types.js";
import type { Collision } from "../../src/model/copy-results.js";
import type { StepEvent } from "../../src/model/run.js";
import type { StepContext } from "../../src/runner/step.js";
import type { AnyStep } from "../../src/steps/workflows.js";
import { Plan, type PlanInput } from "../../src/plan/schema.js";

async function* walk(root: string, rel = ""): AsyncGenerator<string> {
  let entries;
  try {
    entries = await readdir(path.join(root, rel), { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.name === ".octoha") continue;
    if (e.isDirectory()) yield* walk(root, r);
    else yield r;
  }
}

const sha = async (p: string) =>
  createHash("sha256")
    .update(await readFile(p))
    .digest("hex");

/** A copy engine double: same contract as src/storage, naive implementation. */
export function createFileCopyEngine(): CopyEngine & { runs: CopyOptions[] } {
  const runs: CopyOptions[] = [];
  return {
    runs,
    async copyTree(o: CopyOptions): Promise<CopySummary> {
      runs.push(o);
      const started = Date.now();
      const s: CopySummary = {
        filesCopied: 0,
        bytesCopied: 0,
        filesSkipped: 0,
        bytesSkipped: 0,
        collisions: [],
        nameProblems: [],
        errors: [],
        durationMs: 0,
        interrupted: false,
      };
      const manifest = new Map<string, { size: number; mtimeMs: number }>();
      if (o.manifestPath) {
        const text = await readFile(o.manifestPath, "utf8").catch(() => "");
        for (const line of text.split("\n").filter(Boolean)) {
          const r = JSON.parse(line) as { relPath: string; size: number; mtimeMs: number };
          manifest.set(r.relPath, r);
        }
      }
      for await (const rel of walk(o.source)) {
        const src = path.join(o.source, rel);
        const dst = path.join(o.target, rel);
        const st = await stat(src);
        const dt = await stat(dst).catch(() => undefined);
        let quarantine: string | undefined;
        if (dt) {
          if (dt.size === st.size && (await sha(src)) === (await sha(dst))) {
            s.filesSkipped++;
            s.bytesSkipped += st.size;
            continue;
          }
          const ours = manifest.get(rel);
          const wroteIt = ours && ours.size === dt.size && ours.mtimeMs === Math.round(dt.mtimeMs);
          if (!wroteIt) {
            const owner = o.taskLogOwner?.(rel);
            const winner: Collision["winner"] = owner !== undefined && owner === o.sourceNode ? "source" : "target";
            quarantine = path.join(o.quarantineDir ?? path.join(o.target, ".octoha", "conflicts"), o.sourceNode ?? "unknown", rel);
            s.collisions.push({
              kind: "different-bytes",
              relPath: rel,
              targetRelPath: rel,
              sourceNode: o.sourceNode,
              winner,
              quarantinedAt: quarantine,
              reason: owner ? `task ran on ${owner}` : "kept the target",
            });
            if (o.dryRun) continue;
            await mkdir(path.dirname(quarantine), { recursive: true });
            if (winner === "target") {
              await writeFile(quarantine, await readFile(src));
              continue;
            }
            await writeFile(quarantine, await readFile(dst));
          }
        }
        s.filesCopied++;
        s.bytesCopied += st.size;
        if (o.dryRun) continue;
        await mkdir(path.dirname(dst), { recursive: true });
        await writeFile(dst, await readFile(src));
        await utimes(dst, st.atime, st.mtime);
        if (o.manifestPath) {
          await mkdir(path.dirname(o.manifestPath), { recursive: true });
          await appendFile(
            o.manifestPath,
            JSON.stringify({ v: 1, relPath: rel, size: st.size, mtimeMs: Math.round(st.mtimeMs), node: o.sourceNode }) + "\n",
          );
        }
      }
      s.durationMs = Date.now() - started;
      return s;
    },
    async preflightTarget(o): Promise<TargetCheck> {
      const exists = await stat(o.target).then(
        () => true,
        () => false,
      );
      let probe = o.target;
      while (
        !(await stat(probe).then(
          () => true,
          () => false,
        )) &&
        path.dirname(probe) !== probe
      )
        probe = path.dirname(probe);
      const fs = await statfs(probe);
      return { exists, freeBytes: fs.bavail * fs.bsize, writable: o.dryRun ? undefined : true };
    },
  };
}

export interface RecordingContext extends StepContext {
  checkpoints: unknown[];
  events: StepEvent[];
  abort(): void;
}

export function recordingContext(stepId: string, clock: { now(): number } = { now: Date.now }): RecordingContext {
  const controller = new AbortController();
  const checkpoints: unknown[] = [];
  const events: StepEvent[] = [];
  return {
    runId: "run-test",
    stepId,
    signal: controller.signal,
    checkpoints,
    events,
    abort: () => controller.abort(),
    async checkpoint(data) {
      checkpoints.push(JSON.parse(JSON.stringify(data)));
    },
    emit: (e) => events.push(e),
    now: () => clock.now(),
  };
}

/** The smallest runner: apply then verify each step in order; stops at the first failure. */
export async function runAll(steps: AnyStep[], clock?: { now(): number }): Promise<{ results: Map<string, unknown>; events: StepEvent[] }> {
  const results = new Map<string, unknown>();
  const events: StepEvent[] = [];
  for (const step of steps) {
    const ctx = recordingContext(step.id, clock);
    const result = await step.apply(ctx, undefined);
    events.push(...ctx.events);
    const verdict = await step.verify(ctx, result);
    if (!verdict.ok) throw new Error(`${step.id} did not verify: ${verdict.summary}: ${(verdict.problems ?? []).join("; ")}`);
    results.set(step.id, result);
  }
  return { results, events };
}

export async function tempDir(prefix = "octoha-steps-"): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export async function writeFiles(root: string, files: Record<string, string>): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
    await writeFile(path.join(root, rel), content);
  }
}

export async function listTree(root: string): Promise<string[]> {
  const out: string[] = [];
  const visit = async (rel: string) => {
    for (const e of await readdir(path.join(root, rel), { withFileTypes: true }).catch(() => [])) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      out.push(e.isDirectory() ? `${r}/` : r);
      if (e.isDirectory()) await visit(r);
    }
  };
  await visit("");
  return out.sort();
}

/** A two-node plan whose local and shared folders are temp dirs (octopus spelling Windows, access spelling the temp dir). */
export function twoNodePlan(root: string, overrides: Partial<PlanInput["options"]> = {}): Plan {
  const loc = (win: string, local: string) => ({ octopus: win, access: path.join(root, local) });
  const node = (name: string) => ({
    name,
    folders: {
      taskLogs: loc("C:\\Octopus\\TaskLogs", `${name}/TaskLogs`),
      artifacts: loc("C:\\Octopus\\Artifacts", `${name}/Artifacts`),
      packages: loc("C:\\Octopus\\Packages", `${name}/Packages`),
    },
  });
  return Plan.parse({
    version: 1,
    octopus: { serverUrl: "https://octopus.example.com", sql: { connectionString: { env: "OCTOHA_TEST_SQL" } } },
    nodes: [node("OCTO1"), node("OCTO2")],
    shared: {
      taskLogs: loc("\\\\fs01\\Octopus Shared\\TaskLogs", "shared/TaskLogs"),
      artifacts: loc("\\\\fs01\\Octopus Shared\\Artifacts", "shared/Artifacts"),
      packages: loc("\\\\fs01\\Octopus Shared\\Packages", "shared/Packages"),
    },
    options: { logHandleWaitSeconds: 60, drainTimeoutMinutes: 1, ...overrides },
  } satisfies PlanInput);
}
