#!/usr/bin/env node
// Copy benchmark: `octoha copy` against `cp -a` and `rsync -a` on the same generated node folder,
// in turns, several rounds; each run is followed by `sync` inside the timing and the target is
// removed between rounds. Prints medians, the ratios octoha/cp and octoha/rsync, the no-op re-run
// of octoha against rsync's no-op, and octoha's peak RSS.
//
//   npm run bench -- [--preset tiny|small|medium|large] [--rounds 3] [--layout flat|dirs]
//                    [--work DIR] [--concurrency N] [--verify sha256|size|none] [--keep] [--floor]
//                    [--share-latency-us N [--share-source]] [--target DIR]
//
// --share-latency-us N mounts the target through ../shared/bench/slowfs/mount-share.sh (every
// file-system call waits N µs, as on an SMB share; needs root and FUSE) and also runs
// `rclone copy --transfers 16 --checkers 16` (the multi-threaded peer, like robocopy /MT:16); it
// prints the share's operations per copied file for each tool. --share-source mounts the source
// through a second share too (the repair topology: each node's disk reached as \\OCTO2\c$).
// --target DIR measures onto a folder already mounted (a real SMB or NFS mount): no operation counts.
//
// --floor also times bench/protocol-floor.py (python3): the design's per-file system calls (temp
// name, SHA-256, fsync, times, rename) in 4 processes with nothing else, the best any
// implementation of that protocol can do on this machine.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { makeHome } from "./make-home.mjs";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
// The installed command (dist/cli/octoha.cjs): it sizes the thread pool for a share, as a user gets.
const cli = path.join(repo, "dist", "cli", "octoha.cjs");

function args(argv) {
  const o = { preset: "small", rounds: 3, layout: "flat", work: path.join(os.tmpdir(), "octoha-bench"), verify: "sha256", keep: false };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i].replace(/^--/, "");
    if (k === "keep") o.keep = true;
    else if (k === "share-source") o.shareSource = true;
    else if (k === "floor") o.floor = true;
    else o[k] = argv[++i];
  }
  o.rounds = Number(o.rounds);
  if (o["share-latency-us"] !== undefined) o.shareLatencyUs = Number(o["share-latency-us"]);
  if (o.shareSource && o.shareLatencyUs === undefined) throw new Error("--share-source needs --share-latency-us N");
  if (o.target && o.shareLatencyUs !== undefined)
    throw new Error("--target DIR is an existing mount: give it or --share-latency-us, not both");
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

const MOUNT_SHARE = process.env.OCTOHA_MOUNT_SHARE ?? path.join(repo, "..", "shared", "bench", "slowfs", "mount-share.sh");

/** A simulated share over BACKING at MOUNTPOINT, with its operation counter. */
function mountShare(backing, mnt, latencyUs, statsFile) {
  mkdirSync(backing, { recursive: true });
  mkdirSync(mnt, { recursive: true });
  const r = spawnSync("bash", [MOUNT_SHARE, backing, mnt, String(latencyUs)], {
    env: { ...process.env, SLOWFS_STATS: statsFile },
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (r.status !== 0) throw new Error(`could not mount ${mnt} with ${MOUNT_SHARE} (${r.status}): ${r.stderr}`);
  return {
    mnt,
    ops: () => (existsSync(statsFile) ? Number(readFileSync(statsFile, "utf8").trim()) : 0),
    unmount: () => spawnSync("fusermount3", ["-u", mnt], { stdio: "ignore" }),
  };
}

const sleepSync = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

function main() {
  const o = args(process.argv.slice(2));
  if (!existsSync(cli)) throw new Error(`build first: ${cli} is missing (npm run bench builds it)`);
  const src = path.join(o.work, `src-${o.preset}-${o.layout}`);
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
  process.stderr.write(`data: ${data.files} files, ${(data.bytes / 2 ** 20).toFixed(0)} MiB\n`);

  // Where the copies go (and, with --share-source, where they come from).
  const shares = [];
  let home = path.join(src, "home");
  let dst = path.join(o.work, "dst");
  const onShare = o.shareLatencyUs !== undefined;
  try {
    if (onShare) {
      const target = mountShare(
        path.join(o.work, "share-backing"),
        path.join(o.work, "share"),
        o.shareLatencyUs,
        path.join(o.work, "share.ops"),
      );
      shares.push(target);
      dst = path.join(target.mnt, "dst");
      if (o.shareSource) {
        const source = mountShare(src, path.join(o.work, "source-share"), o.shareLatencyUs, path.join(o.work, "source-share.ops"));
        shares.push(source);
        home = path.join(source.mnt, "home");
      }
    } else if (o.target) {
      if (!existsSync(o.target)) throw new Error(`--target ${o.target} does not exist: mount the share there first`);
      dst = path.join(o.target, `octoha-bench-${process.pid}`);
    }
    run(o, data, home, dst, shares, onShare);
  } finally {
    rmSync(dst, { recursive: true, force: true });
    for (const share of shares) share.unmount();
    if (!o.keep) {
      rmSync(src, { recursive: true, force: true });
      rmSync(path.join(o.work, "share-backing"), { recursive: true, force: true });
    }
  }
}

function run(o, data, home, dst, shares, onShare) {
  const rsync = has("rsync");
  const rclone = has("rclone");
  if (!rsync) process.stderr.write("rsync not found: install it with `apt-get install rsync`\n");
  if (onShare && !rclone) process.stderr.write("rclone not found: install it with `apt-get install rclone`\n");
  const extra = [...(o.concurrency ? ["--concurrency", String(o.concurrency)] : []), "--verify", o.verify];
  // Each tool: its copy, and its no-op re-run onto the finished copy (cp has none: it copies again).
  const tools = {
    octoha: () => timed(process.execPath, [cli, "copy", home, dst, "--node", "bench", "--json", ...extra]),
    cp: () => timed("cp", ["-a", home, dst]),
    ...(rsync ? { rsync: () => timed("rsync", ["-a", `${home}/`, `${dst}/`]) } : {}),
    ...(rsync && !onShare && !o.target ? { "rsync-fsync": () => timed("rsync", ["-a", "--fsync", `${home}/`, `${dst}/`]) } : {}),
    ...(rclone && (onShare || o.target)
      ? { rclone: () => timed("rclone", ["copy", "--transfers", "16", "--checkers", "16", "--config", "/dev/null", home, dst]) }
      : {}),
    ...(o.floor && has("python3")
      ? { floor: () => timed("python3", [path.join(repo, "bench", "protocol-floor.py"), home, dst, "4", "1"]) }
      : {}),
  };
  const hasNoop = (name) => name !== "cp" && name !== "floor";
  const names = Object.keys(tools);
  const results = Object.fromEntries(names.map((n) => [n, { copy: [], noop: [], ops: [], noopOps: [], rss: 0 }]));
  // The share's counter is rewritten once a second: wait for it to settle around each measurement.
  const opsNow = () => {
    if (shares.length === 0) return 0;
    sleepSync(1100);
    return shares.reduce((sum, share) => sum + share.ops(), 0);
  };
  const measure = (name, into, opsInto) => {
    const before = opsNow();
    const r = tools[name]();
    if (shares.length) opsInto.push(opsNow() - before);
    into.push(r.seconds);
    results[name].rss = Math.max(results[name].rss, r.rssMb ?? 0);
    return r;
  };
  for (let round = 0; round < o.rounds; round++) {
    // Rotate the order so no tool always runs on the coldest (or warmest) cache.
    for (let k = 0; k < names.length; k++) {
      const name = names[(round + k) % names.length];
      rmSync(dst, { recursive: true, force: true });
      sh("sync", []);
      const r = measure(name, results[name].copy, results[name].ops);
      if (hasNoop(name)) measure(name, results[name].noop, results[name].noopOps);
      process.stderr.write(`round ${round + 1} ${name}: ${r.seconds.toFixed(2)} s\n`);
    }
  }
  process.stdout.write(summary(o, data, names, results, shares.length > 0) + "\n");
}

function summary(o, data, names, results, counted) {
  const m = Object.fromEntries(names.map((n) => [n, median(results[n].copy)]));
  const where =
    o.shareLatencyUs !== undefined
      ? `target on a simulated share (${o.shareLatencyUs} µs per operation)${o.shareSource ? ", source on another" : ""}`
      : o.target
        ? `target ${o.target}`
        : "local disk";
  const perFile = (xs) => (xs.length ? (median(xs) / data.files).toFixed(1) : "-");
  const lines = [
    `preset ${o.preset} (${o.layout}), ${data.files} files, ${(data.bytes / 2 ** 20).toFixed(0)} MiB, ${o.rounds} rounds, verify ${o.verify}, ${os.cpus().length} CPUs, ${where}`,
    `  ${"tool".padEnd(12)} ${"copy s".padStart(8)} ${"no-op s".padStart(8)} ${counted ? `${"ops/file".padStart(9)} ${"no-op ops/file".padStart(15)} ` : ""}${"peak RSS".padStart(9)}`,
    ...names.map((n) => {
      const r = results[n];
      const noop = r.noop.length ? median(r.noop).toFixed(2) : "-";
      const ops = counted ? `${perFile(r.ops).padStart(9)} ${perFile(r.noopOps).padStart(15)} ` : "";
      return `  ${n.padEnd(12)} ${m[n].toFixed(2).padStart(8)} ${noop.padStart(8)} ${ops}${(r.rss ? `${r.rss.toFixed(0)} MB` : "?").padStart(9)}`;
    }),
    ...names
      .filter((n) => n !== "octoha")
      .map((n) => {
        const noop =
          results[n].noop.length && results.octoha.noop.length
            ? `, no-op ${(median(results.octoha.noop) / median(results[n].noop)).toFixed(2)}`
            : "";
        return `  octoha/${n.padEnd(12)} copy ${(m.octoha / m[n]).toFixed(2)}${noop}`;
      }),
  ];
  return lines.join("\n");
}

try {
  main();
} catch (error) {
  process.stderr.write(`copy-bench: ${error.message}\n`);
  process.exit(1);
}
