#!/usr/bin/env node
// Memory and wall time at a large file count: octoha's `copy --dry-run`, copy and no-op re-run
// beside `rsync -an`, `rsync -a`, `rsync -a --fsync` (and rsync's no-op) on one generated node
// folder (by default the huge preset: a million task logs in one flat TaskLogs folder). Each tool
// runs once per round, in turns; copies are followed by `sync` inside the timing and the target is
// removed between tools. Prints wall time and peak RSS per tool (medians over rounds). "node floor"
// is bench/listing-floor.mjs --threads: the least a Node program does for the same dry-run or no-op
// with its lstats on threads, as octoha makes them (was: through libuv, which octoha beat), so the
// ratios say how much is octoha's own code and how much Node's lstats cost against rsync's.
//
//   npm run bench:memory -- [--preset huge|large|...] [--layout flat|dirs] [--logs N] [--rounds 1]
//                           [--work DIR] [--home DIR] [--only octoha-dry-run,rsync-an,rsync-a-fsync,...] [--keep]
//
// Peak RSS comes from `/usr/bin/time -f %M` when installed, else from the child's VmHWM in /proc
// (read just before it exits). Generated data stays under --work/src-<preset>-<layout>[-<logs>]
// with --keep (a second run reuses it: a million files take minutes to write); --home measures a
// node folder generated earlier by bench/make-home.mjs instead.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { makeHome, PRESETS } from "./make-home.mjs";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
// The installed command (dist/cli/octoha.cjs): it sizes the thread pool for a share, as a user gets.
const cli = path.join(repo, "dist", "cli", "octoha.cjs");
// The least a Node program does for the same no-op or dry-run (see the script): the floor under octoha's figures.
const floor = path.join(repo, "bench", "listing-floor.mjs");

function args(argv) {
  const o = { preset: "huge", layout: "flat", rounds: 1, work: path.join(os.tmpdir(), "octoha-memory-bench"), keep: false };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i].replace(/^--/, "");
    if (k === "keep") o.keep = true;
    else o[k] = argv[++i];
  }
  o.rounds = Number(o.rounds);
  if (o.logs !== undefined) o.logs = Number(o.logs);
  if (!PRESETS[o.preset]) throw new Error(`unknown preset '${o.preset}' (${Object.keys(PRESETS).join(", ")})`);
  return o;
}

const hasTime = existsSync("/usr/bin/time");

/** Peak RSS of a child in MB: /usr/bin/time when there, else VmHWM polled from /proc until it exits. */
function run(command, argv) {
  return new Promise((resolve, reject) => {
    const rssFile = path.join(os.tmpdir(), `octoha-memory-bench-rss-${process.pid}`);
    const [cmd, cmdArgs] = hasTime ? ["/usr/bin/time", ["-f", "%M", "-o", rssFile, command, ...argv]] : [command, argv];
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, cmdArgs, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    let hwmKb = 0;
    child.stderr.on("data", (d) => (stderr = (stderr + d).slice(-4000)));
    const poll = hasTime
      ? undefined
      : setInterval(() => {
          try {
            const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"));
            if (m) hwmKb = Math.max(hwmKb, Number(m[1]));
          } catch {}
        }, 50);
    child.on("error", reject);
    child.on("close", (code) => {
      if (poll) clearInterval(poll);
      spawnSync("sync");
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      if (code !== 0) return reject(new Error(`${command} ${argv.join(" ")} exited ${code}: ${stderr}`));
      if (hasTime) {
        hwmKb = Number(readFileSync(rssFile, "utf8").trim().split("\n").pop());
        rmSync(rssFile, { force: true });
      }
      resolve({ seconds, rssMb: hwmKb / 1024 });
    });
  });
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function dataOf(o) {
  if (o.home) {
    const count = (cmd) =>
      Number(
        String(spawnSync("sh", ["-c", cmd], { cwd: o.home }).stdout)
          .trim()
          .split(/\s/)[0],
      );
    return { home: path.resolve(o.home), data: { files: count("find . -type f | wc -l"), bytes: count("du -sb .") } };
  }
  const src = path.join(o.work, `src-${o.preset}-${o.layout}${o.logs !== undefined ? `-${o.logs}` : ""}`);
  const marker = path.join(src, ".generated.json");
  if (existsSync(marker)) return { home: path.join(src, "home"), data: JSON.parse(readFileSync(marker, "utf8")) };
  rmSync(src, { recursive: true, force: true });
  mkdirSync(src, { recursive: true });
  const free = statfsSync(src);
  process.stderr.write(`generating ${o.preset} (${o.layout}) in ${src}, ${((free.bavail * free.bsize) / 2 ** 30).toFixed(0)} GiB free …\n`);
  const data = makeHome({ out: path.join(src, "home"), preset: o.preset, layout: o.layout, node: 1, logs: o.logs });
  writeFileSync(marker, JSON.stringify(data));
  return { home: path.join(src, "home"), data, generated: src };
}

async function main() {
  const o = args(process.argv.slice(2));
  if (!existsSync(cli)) throw new Error(`build first: ${cli} is missing (npm run bench:memory builds it)`);
  if (spawnSync("sh", ["-c", "command -v rsync"]).status !== 0) throw new Error("rsync not found: install it with `apt-get install rsync`");
  mkdirSync(o.work, { recursive: true });
  const { home, data, generated } = dataOf(o);
  const dst = path.join(o.work, "dst");
  process.stderr.write(`data: ${data.files} files, ${(data.bytes / 2 ** 20).toFixed(0)} MiB\n`);
  const octoha = (...extra) => run(process.execPath, [cli, "copy", home, dst, "--node", "bench", "--json", ...extra]);
  // [name, fresh target first?, command]; a no-op runs right after its tool's copy, on the copied target.
  const tools = [
    ["octoha dry-run", "empty", () => octoha("--dry-run")],
    ["rsync -an", "empty", () => run("rsync", ["-an", `${home}/`, `${dst}/`])],
    ["node floor dry-run", "empty", () => run(process.execPath, [floor, home, dst, "--dry-run", "--threads"])],
    ["octoha copy", "empty", () => octoha()],
    ["octoha no-op", "keep", () => octoha()],
    ["node floor no-op", "keep", () => run(process.execPath, [floor, home, dst, "--threads"])],
    ["rsync -a", "empty", () => run("rsync", ["-a", `${home}/`, `${dst}/`])],
    ["rsync no-op", "keep", () => run("rsync", ["-a", `${home}/`, `${dst}/`])],
    ["rsync -a --fsync", "empty", () => run("rsync", ["-a", "--fsync", `${home}/`, `${dst}/`])],
  ].filter(([name]) => !o.only || o.only.split(",").some((w) => name.replace(/\s+-*/g, "-").includes(w)));
  const results = new Map(tools.map(([name]) => [name, []]));
  for (let round = 0; round < o.rounds; round++) {
    for (const [name, target, fn] of tools) {
      if (target === "empty") {
        rmSync(dst, { recursive: true, force: true });
        spawnSync("sync");
      }
      const r = await fn();
      results.get(name).push(r);
      process.stderr.write(`round ${round + 1} ${name}: ${r.seconds.toFixed(2)} s, peak RSS ${r.rssMb.toFixed(0)} MB\n`);
    }
  }
  rmSync(dst, { recursive: true, force: true });
  if (!o.keep && generated) rmSync(generated, { recursive: true, force: true });

  const m = (name) => ({ s: median(results.get(name).map((r) => r.seconds)), mb: median(results.get(name).map((r) => r.rssMb)) });
  const lines = [
    `preset ${o.preset} (${o.layout}), ${data.files} files, ${(data.bytes / 2 ** 20).toFixed(0)} MiB, ${o.rounds} round(s), ${os.cpus().length} CPUs`,
    "| command | wall | peak RSS |",
    "|---|---:|---:|",
    ...tools.map(([name]) => `| ${name} | ${m(name).s.toFixed(2)} s | ${m(name).mb.toFixed(0)} MB |`),
  ];
  const ratio = (a, b, goal) =>
    results.has(a) && results.has(b) ? [`${a} / ${b}: ${(m(a).s / m(b).s).toFixed(2)}${goal ? ` (goal <= ${goal})` : ""}`] : [];
  lines.push(
    ...ratio("octoha dry-run", "rsync -an", "1.0"),
    ...ratio("node floor dry-run", "rsync -an"),
    ...ratio("octoha dry-run", "node floor dry-run"),
    ...ratio("octoha copy", "rsync -a --fsync", "1.0"),
    ...ratio("octoha no-op", "rsync no-op", "1.5"),
    ...ratio("node floor no-op", "rsync no-op"),
    ...ratio("octoha no-op", "node floor no-op"),
  );
  process.stdout.write(lines.join("\n") + "\n");
}

main().catch((error) => {
  process.stderr.write(`memory-bench: ${error.message}\n`);
  process.exit(1);
});
