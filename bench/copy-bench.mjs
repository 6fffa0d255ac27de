#!/usr/bin/env node
// Copy benchmark: `octoha copy` against `cp -a` and `rsync -a` on the same generated node folder,
// in turns, several rounds; each run is followed by `sync` inside the timing and the target is
// removed between rounds. Prints medians, the ratios octoha/cp and octoha/rsync, the no-op re-run
// of octoha against rsync's no-op, and octoha's peak RSS.
//
//   npm run bench -- [--preset tiny|small|medium|large] [--rounds 3] [--layout flat|dirs]
//                    [--work DIR] [--concurrency N] [--verify sha256|size|none] [--keep] [--floor]
//
// --floor also times bench/protocol-floor.py (python3): the design's per-file system calls (temp
// name, SHA-256, fsync, times, rename) in 4 processes with nothing else, the best any
// implementation of that protocol can do on this machine.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, rmdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { makeHome } from "./make-home.mjs";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const cli = path.join(repo, "dist", "cli", "main.js");

function args(argv) {
  const o = { preset: "small", rounds: 3, layout: "flat", work: path.join(os.tmpdir(), "octoha-bench"), verify: "sha256", keep: false };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i].replace(/^--/, "");
    if (k === "keep") o.keep = true;
    else if (k === "floor") o.floor = true;
    else o[k] = argv[++i];
  }
  o.rounds = Number(o.rounds);
  return o;
}

function has(command) {
  return spawnSync("sh", ["-c", `command -v ${command}`]).status === 0;
}

function sh(command, argv) {
  const r = spawnSync(command, argv, { stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${command} ${argv.join(" ")} failed (${r.status}): ${r.stderr}`);
  return r;
}

/** Wall time of command + sync, in seconds; peak RSS in MB when /usr/bin/time is there. */
function timed(command, argv) {
  const rssFile = path.join(os.tmpdir(), `octoha-bench-rss-${process.pid}`);
  const useTime = existsSync("/usr/bin/time");
  const t0 = process.hrtime.bigint();
  if (useTime) sh("/usr/bin/time", ["-f", "%M", "-o", rssFile, command, ...argv]);
  else sh(command, argv);
  sh("sync", []);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const rssMb = useTime ? Number(readFileSync(rssFile, "utf8").trim().split("\n").pop()) / 1024 : undefined;
  rmSync(rssFile, { force: true });
  return { seconds, rssMb };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function main() {
  const o = args(process.argv.slice(2));
  if (!existsSync(cli)) throw new Error(`build first: ${cli} is missing (npm run bench builds it)`);
  const src = path.join(o.work, `src-${o.preset}-${o.layout}`);
  const dst = path.join(o.work, "dst");
  mkdirSync(o.work, { recursive: true });
  const marker = path.join(src, ".generated.json");
  let data;
  if (existsSync(marker)) data = JSON.parse(readFileSync(marker, "utf8"));
  else {
    rmSync(src, { recursive: true, force: true });
    process.stderr.write(`generating ${o.preset} (${o.layout}) in ${src} …\n`);
    data = makeHome({ out: path.join(src, "home"), preset: o.preset, layout: o.layout, node: 1 });
    writeFileSync(marker, JSON.stringify(data));
  }
  const home = path.join(src, "home");
  process.stderr.write(`data: ${data.files} files, ${(data.bytes / 2 ** 20).toFixed(0)} MiB\n`);
  const rsync = has("rsync");
  if (!rsync) process.stderr.write("rsync not found: install it with `apt-get install rsync` (measuring octoha and cp only)\n");

  const extra = [...(o.concurrency ? ["--concurrency", String(o.concurrency)] : []), "--verify", o.verify];
  const tools = {
    octoha: () => timed(process.execPath, [cli, "copy", home, dst, "--node", "bench", "--json", ...extra]),
    cp: () => timed("cp", ["-a", home, dst]),
    ...(rsync ? { rsync: () => timed("rsync", ["-a", `${home}/`, `${dst}/`]) } : {}),
    ...(o.floor && has("python3")
      ? { floor: () => timed("python3", [path.join(repo, "bench", "protocol-floor.py"), home, dst, "4", "1"]) }
      : {}),
  };
  const names = Object.keys(tools);
  const results = Object.fromEntries(names.map((n) => [n, []]));
  const noop = { octoha: [], rsync: [] };
  let peakRss = 0;
  for (let round = 0; round < o.rounds; round++) {
    // Rotate the order so no tool always runs on the coldest (or warmest) cache.
    for (let k = 0; k < names.length; k++) {
      const name = names[(round + k) % names.length];
      rmSync(dst, { recursive: true, force: true });
      sh("sync", []);
      const r = tools[name]();
      results[name].push(r.seconds);
      if (name === "octoha") {
        peakRss = Math.max(peakRss, r.rssMb ?? 0);
        const again = tools.octoha();
        noop.octoha.push(again.seconds);
        peakRss = Math.max(peakRss, again.rssMb ?? 0);
      }
      if (name === "rsync") noop.rsync.push(tools.rsync().seconds);
      process.stderr.write(`round ${round + 1} ${name}: ${r.seconds.toFixed(2)} s\n`);
    }
  }
  rmSync(dst, { recursive: true, force: true });
  if (!o.keep) {
    rmSync(src, { recursive: true, force: true });
    try {
      rmdirSync(o.work); // only if nothing else lives there
    } catch {}
  }

  const m = Object.fromEntries(names.map((n) => [n, median(results[n])]));
  const lines = [
    `preset ${o.preset} (${o.layout}), ${data.files} files, ${(data.bytes / 2 ** 20).toFixed(0)} MiB, ${o.rounds} rounds, verify ${o.verify}, ${os.cpus().length} CPUs`,
    ...names.map((n) => `  ${n.padEnd(7)} median ${m[n].toFixed(2)} s   (${results[n].map((x) => x.toFixed(2)).join(", ")})`),
    `  octoha/cp     ${(m.octoha / m.cp).toFixed(2)}  (goal <= 0.8 on medium)`,
    ...(rsync ? [`  octoha/rsync  ${(m.octoha / m.rsync).toFixed(2)}`] : []),
    ...(m.floor
      ? [
          `  floor/cp      ${(m.floor / m.cp).toFixed(2)}  (the protocol itself, 4 processes: no implementation of it does better here)`,
          `  octoha/floor  ${(m.octoha / m.floor).toFixed(2)}`,
        ]
      : []),
    `  no-op re-run: octoha ${median(noop.octoha).toFixed(2)} s` +
      (rsync
        ? `, rsync ${median(noop.rsync).toFixed(2)} s, ratio ${(median(noop.octoha) / median(noop.rsync)).toFixed(2)} (goal <= 1.5)`
        : ""),
    `  octoha peak RSS ${peakRss ? `${peakRss.toFixed(0)} MB` : "unknown (no /usr/bin/time)"} (goal <= 200 MB on large)`,
  ];
  process.stdout.write(lines.join("\n") + "\n");
}

try {
  main();
} catch (error) {
  process.stderr.write(`copy-bench: ${error.message}\n`);
  process.exit(1);
}
