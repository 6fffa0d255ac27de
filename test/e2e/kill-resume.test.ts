/**
 * Crash safety of the real migration and repair, end to end: octoha is SIGKILLed right after every
 * step's journal record (and in the middle of a copy), then `resume --yes` carries on. The end
 * state must equal an uninterrupted run on an identical fresh cluster: Octopus (maintenance mode,
 * every node's drain flag, task cap, service and folders) and every byte under the shared folders.
 *
 * To stay fast on a small machine each workflow runs one chain on one cluster: run, killed after
 * step 1; resume, killed after step 2; … ; resume to the end. Every resume thus starts from a
 * process that died right after a different step. Whether a kill lands after "applied" or after
 * "verified" is chosen by a seeded PRNG (E2E_SEED to replay; the seed is in every failure message).
 *
 * The kills in the middle of a copy are real: a child process SIGKILLs itself on a copy progress
 * event. The kills at step boundaries run octoha in this process and simulate the kill at the
 * journal record through the runner's journal hook (see octohaInProcess), which saves a node start
 * and a module load per step (the uninterrupted reference runs in-process too). Nodes start in 300 ms,
 * not the stand-in's 2 s, in both clusters.
 */
import { createHash } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import {
  describeChild,
  endState,
  expectStoppedAtPlannedPoint,
  hashTree,
  octoha,
  octohaInProcess,
  prng,
  sharedRoot,
  startCase,
  stepIdsOf,
  verbFor,
  type E2eCase,
  type KillSpec,
  type Workflow,
} from "./crash-harness.js";

const SEED = Number(process.env.E2E_SEED ?? 20261126);
const BIG_FILES = 24;
const BIG_BYTES = 256 * 1024;
const STARTUP_MS = 300;

/** Enough artifact bytes per node that a copy is caught in the middle. */
function bigArtifacts(node: string): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (let i = 0; i < BIG_FILES; i++) {
    const name = `Bundles\\${node}-bundle-${String(i).padStart(2, "0")}.bin`;
    out[name] = Buffer.alloc(BIG_BYTES, createHash("sha256").update(`${node}:${i}`).digest("hex"));
  }
  return out;
}

/**
 * Where the chain kills in the middle of a copy: every copy step that moves data, once per folder
 * kind it copies. In a migration the preseed moves everything (the window's copy steps then find
 * nothing left to copy), so it is interrupted once per kind; a repair copies each kind in its own step.
 */
const midCopies = (w: Workflow): { stepId: string; kind: string }[] =>
  w === "migrate"
    ? [
        { stepId: "preseed", kind: "taskLogs" },
        { stepId: "preseed", kind: "artifacts" },
        { stepId: "preseed", kind: "packages" },
      ]
    : [
        { stepId: "copy-task-logs", kind: "taskLogs" },
        { stepId: "copy-artifacts", kind: "artifacts" },
        { stepId: "copy-packages", kind: "packages" },
      ];

const opened: E2eCase[] = [];
afterAll(async () => {
  await Promise.all(opened.splice(0).map((c) => c.close()));
});

async function newCase(): Promise<E2eCase> {
  const c = await startCase({ extraArtifacts: bigArtifacts, startupMs: STARTUP_MS });
  opened.push(c);
  return c;
}

async function uninterrupted(w: Workflow) {
  const c = await newCase();
  const r = await octohaInProcess(c, verbFor(w));
  expect(r.code, `uninterrupted ${w}: ${describeChild(r)}`).toBe(0);
  return { steps: stepIdsOf(r), state: await endState(c) };
}

/** Kill after every step (and in the middle of every copy), resume each time, finish; returns the kill log. */
async function killedAtEveryStep(w: Workflow, random: () => number) {
  const c = await newCase();
  const log: string[] = [];
  const where = () => `${w}, seed ${SEED}, kills so far: ${log.join(" → ")}`;
  let steps: string[] | undefined;
  const pendingMidCopies = midCopies(w);
  for (let k = 0; ; k++) {
    const stepId = steps?.[k];
    if (steps && stepId === undefined) break;
    // The first invocation's step list is not known yet: it dies after whatever step comes first.
    const mid = pendingMidCopies[0];
    const kill: KillSpec =
      stepId === undefined
        ? { type: "step-applied" }
        : mid !== undefined && mid.stepId === stepId
          ? { type: "mid-copy", stepId, kind: mid.kind }
          : { type: random() < 0.5 ? "step-applied" : "step-verified", stepId };
    const verb = k === 0 ? verbFor(w) : "resume";
    const r = kill.type === "mid-copy" ? await octoha(c, verb, { killOn: kill }) : await octohaInProcess(c, verb, { killOn: kill });
    steps ??= stepIdsOf(r);
    log.push(`${kill.type}:${stepId ?? steps[0]}${kill.kind ? `/${kill.kind}` : ""}`);
    await expectStoppedAtPlannedPoint(r, where());
    if (kill.type === "mid-copy") expect(r.signal, `${where()}: a mid-copy kill is a real SIGKILL`).toBe("SIGKILL");
    if (kill.type === "mid-copy") {
      pendingMidCopies.shift();
      k--; // the same step again: its next mid-copy kill, or its boundary
      if (kill.kind !== "artifacts") continue;
      const copied = Object.keys(await hashTree(sharedRoot(c))).filter(
        (p) => p.startsWith("Artifacts/Spaces-1/Bundles/") && !p.endsWith(".octoha-tmp"),
      );
      expect(copied.length, `${where()}: the kill did not land in the middle of the copy`).toBeGreaterThan(0);
      expect(copied.length, `${where()}: the kill did not land in the middle of the copy`).toBeLessThan(BIG_FILES * 2);
    }
  }
  expect(pendingMidCopies, `${where()}: a planned mid-copy kill never happened`).toEqual([]);
  const final = await octohaInProcess(c, "resume");
  expect(final.code, `${where()}: the last resume did not finish\n${describeChild(final)}`).toBe(0);
  return { steps: steps ?? [], log, where: where(), state: await endState(c) };
}

describe("killed at every step boundary (simulated in-process) and in the middle of every copy (SIGKILL), then resume", () => {
  it.concurrent.each(["migrate", "repair"] as const)(
    "%s: after a kill after every step and in the middle of every copy, resumed runs end exactly as an uninterrupted run",
    async (w) => {
      const random = prng(SEED + (w === "migrate" ? 1 : 2));
      const [reference, chain] = await Promise.all([uninterrupted(w), killedAtEveryStep(w, random)]);
      expect(chain.steps).toEqual(reference.steps);
      expect(chain.log.length, chain.where).toBe(reference.steps.length + midCopies(w).length);
      // No temp file survives a resume, nothing is lost, nothing differs.
      expect(
        Object.keys(chain.state.shared).filter((p) => p.endsWith(".octoha-tmp")),
        chain.where,
      ).toEqual([]);
      expect(chain.state.octopus, chain.where).toEqual(reference.state.octopus);
      expect(chain.state.shared, chain.where).toEqual(reference.state.shared);
      // Copy, never move: the nodes' own folders are as they were.
      expect(chain.state.nodes, chain.where).toEqual(reference.state.nodes);
      // And the run did its job: every node runs on the shared folders, out of maintenance, undrained.
      expect(reference.state.octopus.maintenance).toBe(false);
      expect(
        reference.state.octopus.nodes.every(
          (n) => n.running && !n.isDraining && n.effectiveFolders.taskLogs === "\\\\fs01\\OctopusShared\\TaskLogs",
        ),
      ).toBe(true);
      expect(Object.keys(reference.state.shared).filter((p) => p.startsWith("Artifacts/Spaces-1/Bundles/")).length).toBe(BIG_FILES * 2);
    },
    300_000,
  );
});
