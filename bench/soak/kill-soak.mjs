#!/usr/bin/env node
// Kill soak (not in CI): SIGKILLs `octoha copy` and `octoha repair` at seeded random moments while
// N busy-loop children load the CPU, re-runs each to completion, and checks what a 2 a.m. operator
// relies on. Needs a build (`npm run soak` builds first).
//
//   node bench/soak/kill-soak.mjs [--seed S] [--rounds R] [--load N] [--only R] [--repair-every K]
//        [--window MIN-MAX] [--keep]
//
// Round r is a repair round when r % K === K - 1 (K = --repair-every, default 2: half and half), a
// copy round otherwise. Each round kills once, at a delay drawn from the round's own PRNG (seed, r):
// uniform over the calibrated length of an uninterrupted run, or over --window (ms after spawn).
// Checks after the completing re-run:
//   copy:   every source file of both nodes is at the target with identical bytes, or (a collision)
//           quarantined under .octoha/conflicts/<node>/ with identical bytes; no *.octoha-tmp; no
//           copy lock left; the manifest's last record for every path agrees with the bytes on disk.
//   repair: `resume` finishes with exit 0; the journal's outcome is done; maintenance off; every node
//           running, undrained, on the shared folders; the same byte checks for every node folder
//           against the shared folders; no *.octoha-tmp; no run lock left.
// A failure prints its round and the replay command (`--seed S --only R`); exit 1 if any check failed.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { makeHome } from "../make-home.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const CLI = path.join(ROOT, "dist", "cli", "main.js");
const dist = (p) => import(pathToFileURL(path.join(ROOT, "dist", p)).href);

const { values: args } = parseArgs({
  options: {
    seed: { type: "string", default: String(Date.now() % 1_000_000) },
    rounds: { type: "string", default: "200" },
    load: { type: "string", default: "2" },
    only: { type: "string" },
    "repair-every": { type: "string", default: "2" },
    window: { type: "string" },
    keep: { type: "boolean", default: false },
  },
});
const SEED = Number(args.seed);
const ROUNDS = Number(args.rounds);
const LOAD = Number(args.load);
const REPAIR_EVERY = Math.max(1, Number(args["repair-every"]));
const WINDOW = args.window ? args.window.split("-").map(Number) : undefined;
const ONLY = args.only === undefined ? undefined : Number(args.only);

// mulberry32, one stream per (seed, round), so `--only R` replays round R exactly.
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const roundRandom = (r) => prng(SEED * 7919 + r * 104729 + 1);
const isRepairRound = (r) => r % REPAIR_EVERY === REPAIR_EVERY - 1;

// ---- CPU load -------------------------------------------------------------------------------
const loaders = [];
function startLoad(n) {
  for (let i = 0; i < n; i++) {
    loaders.push(spawn(process.execPath, ["-e", "for(;;){}"], { stdio: "ignore" }));
  }
}
function stopLoad() {
  for (const c of loaders.splice(0)) c.kill("SIGKILL");
}
process.on("exit", stopLoad);
process.on("SIGINT", () => process.exit(130));

// ---- octoha as a child ----------------------------------------------------------------------
/** Runs `node dist/cli/main.js ...args`; with killAfterMs, SIGKILLs it that long after the spawn. */
function octoha(cliArgs, env, killAfterMs) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, [CLI, ...cliArgs], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const killer = killAfterMs === undefined ? undefined : setTimeout(() => child.kill("SIGKILL"), killAfterMs);
    const guard = setTimeout(() => child.kill("SIGKILL"), 600_000);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(killer);
      clearTimeout(guard);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
}

function cleanEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(OCTOPUS_|OCTOHA_)/.test(k)) env[k] = v;
  return { ...env, NO_COLOR: "1", ...extra };
}

const tail = (r) =>
  `exit ${r.code} signal ${r.signal}; stderr: ${r.stderr.trim().split("\n").slice(-6).join(" | ").slice(0, 1200)}` +
  (r.code !== 0 && r.stdout ? `; stdout: ${r.stdout.trim().split("\n").slice(-2).join(" | ").slice(0, 800)}` : "");

// ---- bytes on disk --------------------------------------------------------------------------
/** relPath → sha256 of every file under root ('/' separators); skips top-level names in `skip`. */
function hashTree(root, skip = []) {
  const out = new Map();
  if (!existsSync(root)) return out;
  const walk = (rel) => {
    for (const d of readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${d.name}` : d.name;
      if (!rel && skip.includes(d.name)) continue;
      if (d.isDirectory()) walk(r);
      else
        out.set(
          r,
          createHash("sha256")
            .update(readFileSync(path.join(root, r)))
            .digest("hex"),
        );
    }
  };
  walk("");
  return out;
}

const tempsUnder = (root) => [...hashTree(root).keys()].filter((p) => p.endsWith(".octoha-tmp"));

/**
 * Every source file is at the target with its bytes, or quarantined with its bytes under
 * .octoha/conflicts/<node>/ (a collision): the copy rules' "nothing lost". `sources`: [node, dir][].
 */
function checkNothingLost(target, sources, problems) {
  const all = hashTree(target);
  for (const [node, dir] of sources) {
    for (const [rel, sha] of hashTree(dir)) {
      if (all.get(rel) === sha) continue;
      if (all.get(`.octoha/conflicts/${node}/${rel}`) === sha) continue;
      problems.push(`${node}'s ${rel} is neither at ${target} nor quarantined with its bytes`);
    }
  }
}

/** The manifest's last record for each path names the bytes that are on disk there. */
function checkManifest(target, problems) {
  const file = path.join(target, ".octoha", "manifest-copy.jsonl");
  if (!existsSync(file)) {
    problems.push(`no manifest at ${file}`);
    return;
  }
  const last = new Map();
  const lines = readFileSync(file, "utf8").split("\n");
  for (const [i, line] of lines.entries()) {
    if (!line) continue;
    try {
      const rec = JSON.parse(line);
      last.set(rec.relPath, rec);
    } catch {
      // A torn batch is allowed only as the very last line, and the completing run appends after it.
      problems.push(`manifest line ${i + 1} does not parse: ${line.slice(0, 120)}`);
    }
  }
  for (const [rel, rec] of last) {
    const abs = path.join(target, rel);
    if (!existsSync(abs)) {
      problems.push(`manifest vouches for ${rel} but it is not on disk`);
      continue;
    }
    const bytes = readFileSync(abs);
    if (bytes.length !== rec.size) problems.push(`manifest says ${rel} has ${rec.size} bytes, disk has ${bytes.length}`);
    else if (rec.sha256 && createHash("sha256").update(bytes).digest("hex") !== rec.sha256)
      problems.push(`manifest hash of ${rel} disagrees with the bytes`);
  }
}

// ---- copy rounds ----------------------------------------------------------------------------
let copyData;
function copyFixture(base) {
  if (copyData) return copyData;
  const src1 = path.join(base, "data", "OCTO1");
  const src2 = path.join(base, "data", "OCTO2");
  // A few files keep a round short (the kill windows are the same); node 2 reuses 10 of node 1's
  // task-log names with other bytes, so every round quarantines collisions.
  const counts = { logs: 80, artifacts: 20, packages: 1 };
  makeHome({ out: src1, preset: "tiny", node: 1, seed: 1, layout: "dirs", ...counts });
  makeHome({ out: src2, preset: "tiny", node: 2, seed: 1, layout: "dirs", ...counts, collideWithNode: 1, collisions: 10 });
  copyData = { src1, src2 };
  return copyData;
}

const copyArgs = (src, dst, node) => ["copy", src, dst, "--node", node, "--json"];

async function copyRound(base, r, delayFor) {
  const { src1, src2 } = copyFixture(base);
  const dst = path.join(base, `r${r}`, "DST");
  mkdirSync(path.dirname(dst), { recursive: true });
  const random = roundRandom(r);
  const killSecond = random() < 0.5;
  const commands = [copyArgs(src1, dst, "OCTO1"), copyArgs(src2, dst, "OCTO2")];
  const env = cleanEnv();
  const problems = [];
  const reruns = [];
  let killedAt;
  let killLanded = false;
  for (const [i, cmd] of commands.entries()) {
    if (i === (killSecond ? 1 : 0)) {
      killedAt = delayFor("copy", random());
      const k = await octoha(cmd, env, killedAt);
      killLanded = k.signal === "SIGKILL";
      if (!killLanded && k.code !== 0) problems.push(`killed run finished before the kill with ${tail(k)}`);
      const again = await octoha(cmd, env);
      reruns.push(again.code);
      if (again.code !== 0) problems.push(`re-run of copy ${cmd[3]} after SIGKILL at ${killedAt} ms: ${tail(again)}`);
    } else {
      const plain = await octoha(cmd, env);
      if (plain.code !== 0) problems.push(`uninterrupted copy ${cmd[3]}: ${tail(plain)}`);
    }
  }
  checkNothingLost(
    dst,
    [
      ["OCTO1", src1],
      ["OCTO2", src2],
    ],
    problems,
  );
  for (const t of tempsUnder(dst)) problems.push(`temp file left: ${t}`);
  if (existsSync(path.join(dst, ".octoha", "copy-lock.json"))) problems.push("copy lock left behind after a finished copy");
  checkManifest(dst, problems);
  if (!args.keep && problems.length === 0) rmSync(path.dirname(dst), { recursive: true, force: true });
  return { kind: "copy", killedAt, killLanded, reruns, problems, where: `copy of ${killSecond ? "OCTO2" : "OCTO1"}` };
}

// ---- repair rounds --------------------------------------------------------------------------
async function repairRound(base, r, delayFor) {
  const { startStandin } = await import("@octoha/standin");
  const { demoPlan } = await dist("demo/demo.js");
  const { readJournal } = await dist("runner/journal.js");
  const dir = path.join(base, `r${r}`);
  const standin = await startStandin({ dataDir: path.join(dir, "cluster"), nodes: 2, seedTasks: 8 });
  const problems = [];
  const reruns = [];
  let killedAt;
  let killLanded = false;
  let firstMs = 0;
  try {
    const stateDir = path.join(dir, "state");
    const plan = demoPlan(standin, stateDir);
    plan.options = { ...plan.options, drainTimeoutMinutes: 1, logHandleWaitSeconds: 0, verifySampleSize: 4 };
    const planFile = path.join(dir, "plan.json");
    writeFileSync(planFile, `${JSON.stringify(plan, null, 2)}\n`);
    const env = cleanEnv({
      [plan.octopus.apiKey.env]: standin.apiKey,
      [plan.octopus.sql.connectionString.env]: standin.sqlConnectionString ?? "",
    });
    const nodesRoot = path.join(standin.dataDir, "nodes");
    const sharedRoot = path.join(standin.dataDir, "shared");
    const before = new Map(standin.cluster.nodes().map((n) => [n.name, n]));

    killedAt = delayFor("repair", roundRandom(r)());
    const k = await octoha(["repair", planFile, "--yes", "--json"], env, killedAt);
    firstMs = k.ms;
    killLanded = k.signal === "SIGKILL";
    if (!killLanded && k.code !== 0) problems.push(`killed repair finished before the kill with ${tail(k)}`);
    // A repair stopped by a kill is continued with `resume`; one killed before its first journal
    // record changed nothing and has nothing to resume (RUN_NOT_FOUND, RUN_EMPTY): it is started again.
    let again = await octoha(["resume", planFile, "--yes", "--json"], env);
    if (again.code === 2 && /No run to resume|recorded nothing/.test(again.stderr + again.stdout)) {
      reruns.push(`resume:${again.code}`);
      again = await octoha(["repair", planFile, "--yes", "--json"], env);
    }
    reruns.push(again.code);
    if (again.code !== 0) problems.push(`resume after SIGKILL at ${killedAt} ms: ${tail(again)}`);

    // Octopus: out of maintenance, every node running, undrained, on the shared folders.
    const st = standin.cluster.state();
    if (st.isInMaintenanceMode) problems.push("maintenance mode still on");
    for (const [kind, folder] of Object.entries({ taskLogs: "TaskLogs", artifacts: "Artifacts", packages: "Packages" })) {
      const want = `\\\\fs01\\OctopusShared\\${folder}`;
      if (st.folders[kind] !== want) problems.push(`cluster ${kind} folder is ${st.folders[kind]}, not ${want}`);
    }
    for (const n of st.nodes) {
      if (n.isDraining) problems.push(`${n.name} still draining`);
      if (!n.running) problems.push(`${n.name} not running`);
      const was = before.get(n.name);
      if (was && n.maxConcurrentTasks !== was.maxConcurrentTasks)
        problems.push(`${n.name} task cap ${n.maxConcurrentTasks}, was ${was.maxConcurrentTasks}`);
      if (n.effectiveFolders.taskLogs !== "\\\\fs01\\OctopusShared\\TaskLogs")
        problems.push(`${n.name} reads task logs from ${n.effectiveFolders.taskLogs}`);
    }
    // The journal says done.
    const runs = existsSync(path.join(stateDir, "runs")) ? readdirSync(path.join(stateDir, "runs")) : [];
    const outcomes = [];
    for (const runId of runs) {
      try {
        const j = await readJournal(stateDir, runId);
        const last = [...j.records].reverse().find((x) => x.t === "outcome");
        outcomes.push(last ? `${last.status}:${last.exitCode}` : "none");
      } catch (error) {
        problems.push(`journal of ${runId} does not read: ${String(error.message ?? error).slice(0, 300)}`);
      }
    }
    if (!outcomes.some((o) => o === "done:0")) problems.push(`no journal says done (outcomes: ${outcomes.join(", ") || "no run"})`);
    if (existsSync(path.join(stateDir, "lock.json"))) problems.push("run lock left behind");
    // Bytes: every node's files on the shared folders (or quarantined), nothing partial, manifests true.
    for (const folder of ["TaskLogs", "Artifacts", "Packages"]) {
      const target = path.join(sharedRoot, folder);
      const sources = readdirSync(nodesRoot).map((node) => [node, path.join(nodesRoot, node, "C", "Octopus", folder)]);
      checkNothingLost(target, sources, problems);
      for (const t of tempsUnder(target)) problems.push(`temp file left: ${folder}/${t}`);
      if (existsSync(path.join(target, ".octoha", "copy-lock.json"))) problems.push(`copy lock left on ${folder}`);
      if (existsSync(path.join(target, ".octoha", "manifest-copy.jsonl"))) checkManifest(target, problems);
    }
  } finally {
    await standin.close();
  }
  if (!args.keep && problems.length === 0) rmSync(dir, { recursive: true, force: true });
  return { kind: "repair", killedAt, killLanded, reruns, problems, where: "repair", firstMs };
}

// ---- main -----------------------------------------------------------------------------------
async function main() {
  if (!existsSync(CLI)) throw new Error(`no build at ${CLI}: run npm run build (npm run soak builds first)`);
  const base = path.join(os.tmpdir(), `octoha-soak-${SEED}-${process.pid}`);
  mkdirSync(base, { recursive: true });
  const started = Date.now();
  startLoad(LOAD);
  console.log(`kill soak: seed ${SEED}, rounds ${ROUNDS}, load ${LOAD}, repair every ${REPAIR_EVERY}, data ${base}`);

  // Calibrate: one uninterrupted run of each kind under the same load gives the kill range.
  const length = {};
  const delayFor = (kind, u) => (WINDOW ? WINDOW[0] + u * (WINDOW[1] - WINDOW[0]) : Math.round(u * length[kind]));
  if (!WINDOW) {
    const { src1 } = copyFixture(base);
    const cal = await octoha(copyArgs(src1, path.join(base, "calibrate", "DST"), "OCTO1"), cleanEnv());
    length.copy = cal.ms;
    rmSync(path.join(base, "calibrate"), { recursive: true, force: true });
    // A repair round that is never killed: its length is the range its kills are drawn from.
    const calRepair = await repairRound(base, -1, () => 3_600_000);
    if (calRepair.problems.length) throw new Error(`an uninterrupted repair failed: ${calRepair.problems.join("; ")}`);
    length.repair = calRepair.firstMs;
    console.log(`calibrated: copy ${length.copy} ms, repair ${length.repair} ms`);
  }

  const tally = { rounds: 0, kills: 0, killsLanded: 0, reruns: {}, failures: [] };
  for (let r = 0; r < ROUNDS; r++) {
    if (ONLY !== undefined && r !== ONLY) continue;
    const round = isRepairRound(r) ? await repairRound(base, r, delayFor) : await copyRound(base, r, delayFor);
    tally.rounds++;
    tally.kills++;
    if (round.killLanded) tally.killsLanded++;
    for (const c of round.reruns) tally.reruns[`${round.kind}:${c}`] = (tally.reruns[`${round.kind}:${c}`] ?? 0) + 1;
    if (round.problems.length) {
      tally.failures.push({ round: r, kind: round.kind, killedAt: round.killedAt, problems: round.problems });
      console.log(
        `FAIL round ${r} (${round.where}, kill at ${round.killedAt} ms): ${round.problems.length} problem(s); replay: --seed ${SEED} --only ${r}`,
      );
      for (const p of round.problems.slice(0, 8)) console.log(`    ${p}`);
    } else if ((r + 1) % 10 === 0) {
      const secs = Math.round((Date.now() - started) / 1000);
      console.log(
        `round ${r + 1}/${ROUNDS} ok (${secs} s; kills landed ${tally.killsLanded}; re-runs ${JSON.stringify(tally.reruns)}; failures ${tally.failures.length})`,
      );
    }
  }
  stopLoad();
  const secs = Math.round((Date.now() - started) / 1000);
  console.log(
    `\ntally: seed ${SEED}, load ${LOAD}, rounds ${tally.rounds}, kills ${tally.kills} (${tally.killsLanded} landed before the run ended), wall ${secs} s`,
  );
  console.log(`re-run exit codes: ${JSON.stringify(tally.reruns)}`);
  console.log(
    `failures: ${tally.failures.length}${tally.failures.map((f) => `\n  round ${f.round} (${f.kind}, kill at ${f.killedAt} ms): ${f.problems[0]}  [--seed ${SEED} --only ${f.round}]`).join("")}`,
  );
  if (tally.failures.length === 0 && !args.keep) rmSync(base, { recursive: true, force: true });
  process.exitCode = tally.failures.length ? 1 : 0;
}

main().catch((error) => {
  stopLoad();
  console.error(error);
  process.exit(1);
});
