#!/usr/bin/env node
// octoha's own generator of synthetic Octopus node folders (reference/octopus.md §4), deterministic
// for a given seed and node number. Used by the copy benchmark and the storage tests.
//
//   node bench/make-home.mjs --out DIR [--preset tiny|small|medium|large|huge] [--layout flat|dirs]
//        [--node N] [--seed S] [--collide-with-node K --collisions C] [--no-scheduled]
//        [--logs N] [--log-median BYTES] [--artifacts N] [--packages N]   (override the preset)
//
// Writes DIR/TaskLogs, DIR/Artifacts, DIR/Packages and prints a JSON summary (files, bytes per kind,
// colliding task-log paths). File mtimes are fixed per file (from the seed), so two runs are equal.
import { mkdirSync, writeFileSync, utimesSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

export const PRESETS = {
  tiny: { logs: 200, artifacts: 40, packages: 4, packageMiB: 2 },
  small: { logs: 5_000, artifacts: 500, packages: 20, packageMiB: 8 },
  medium: { logs: 50_000, artifacts: 3_000, packages: 60, packageMiB: 24 },
  large: { logs: 250_000, artifacts: 10_000, packages: 150, packageMiB: 60 },
  // A long-lived installation without aggressive retention: a million task logs in one flat TaskLogs
  // folder (before 2025.2). Median log 1 KB (80 B to 8 MB, log-normal): ~3.5 GB of logs, ~5 GB on
  // disk with 4 KiB blocks; the 12 KB median of the other presets would need ~28 GB per copy.
  huge: { logs: 1_000_000, artifacts: 2_000, packages: 10, packageMiB: 8, logMedian: 1_000 },
};

// mulberry32: tiny, fast, good enough for shapes and bytes.
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

function logNormal(rand, median, sigma, max) {
  const z = Math.sqrt(-2 * Math.log(Math.max(rand(), 1e-12))) * Math.cos(2 * Math.PI * rand());
  return Math.min(max, Math.max(80, Math.round(median * Math.exp(sigma * z))));
}

const UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
function suffixFor(taskId) {
  // A pure function of the task id, so another node's names can be reproduced for collisions.
  const r = prng(taskId * 40503 + 7);
  let s = "";
  for (let i = 0; i < 10; i++) s += UPPER[Math.floor(r() * UPPER.length)];
  return s;
}

const VERBS = ["Deploying", "Uploading", "Extracting", "Running script", "Acquiring", "Verifying"];
const TARGETS = ["web-01", "web-02", "db-01", "worker-7", "k8s-prod", "tentacle-eu"];
function linePool(rand) {
  const lines = [];
  for (let i = 0; i < 2048; i++) {
    const level = rand() < 0.8 ? "Info   " : rand() < 0.7 ? "Verbose" : "Warning";
    const verb = VERBS[Math.floor(rand() * VERBS.length)];
    const target = TARGETS[Math.floor(rand() * TARGETS.length)];
    lines.push(
      `2026-10-${String(1 + (i % 28)).padStart(2, "0")}T0${i % 10}:${String(i % 60).padStart(2, "0")}:00Z ${level} | ${verb} 'Acme.App' 3.${i % 17}.${i} on ${target} (${i})\n`,
    );
  }
  return lines;
}

function textOf(rand, pool, size, header) {
  const parts = [header];
  let n = header.length;
  while (n < size) {
    const l = pool[Math.floor(rand() * pool.length)];
    parts.push(l);
    n += l.length;
  }
  return Buffer.from(parts.join("")).subarray(0, size);
}

function makeBinaryBlock(rand) {
  const block = Buffer.allocUnsafe(4 << 20);
  for (let i = 0; i < block.length; i += 4) block.writeUInt32LE((rand() * 4294967296) >>> 0, i);
  return block;
}

function binaryOf(block, size, offset, header) {
  const out = Buffer.allocUnsafe(size);
  let pos = out.write(header.slice(0, size));
  while (pos < size) {
    const start = (offset + pos) % block.length;
    pos += block.copy(out, pos, start, Math.min(block.length, start + (size - pos)));
  }
  return out;
}

export function makeHome(options) {
  if (!PRESETS[options.preset ?? "tiny"]) throw new Error(`unknown preset '${options.preset}' (${Object.keys(PRESETS).join(", ")})`);
  const preset = { ...PRESETS[options.preset ?? "tiny"] };
  for (const k of ["logs", "artifacts", "packages"]) if (options[k] !== undefined) preset[k] = options[k];
  const logMedian = options.logMedian ?? preset.logMedian ?? 12_000;
  const layout = options.layout ?? "flat";
  if (layout !== "flat" && layout !== "dirs") throw new Error(`unknown layout '${layout}' (flat, dirs)`);
  const node = options.node ?? 1;
  const out = options.out;
  const rand = prng((options.seed ?? 1) * 1_000_003 + node);
  const pool = linePool(rand);
  const block = makeBinaryBlock(rand);
  const baseTime = Date.UTC(2026, 9, 1) / 1000;
  const summary = { node, layout, files: 0, bytes: 0, kinds: {}, collisions: [] };
  const write = (kind, file, bytes) => {
    writeFileSync(file, bytes);
    const t = baseTime + Math.floor(rand() * 86400 * 30) + rand();
    utimesSync(file, t, t);
    const k = (summary.kinds[kind] ??= { files: 0, bytes: 0 });
    k.files++;
    k.bytes += bytes.length;
    summary.files++;
    summary.bytes += bytes.length;
  };

  const logs = join(out, "TaskLogs");
  mkdirSync(logs, { recursive: true });
  const taskLog = (id, size) => {
    const base = `servertasks-${id}_${suffixFor(id)}`;
    const header = `node ${node} task ServerTasks-${id}\n`;
    if (layout === "flat") {
      write("TaskLogs", join(logs, `${base}.txt`), textOf(rand, pool, size, header));
      return `TaskLogs/${base}.txt`;
    }
    mkdirSync(join(logs, base), { recursive: true });
    const parts = 1 + Math.floor(rand() * 3);
    for (let p = 0; p < parts; p++)
      write("TaskLogs", join(logs, base, `${suffixFor(id * 10 + p)}.tl.txt`), textOf(rand, pool, Math.ceil(size / parts), header));
    return `TaskLogs/${base}/`;
  };
  const firstTask = (node - 1) * 10_000_000 + 1;
  for (let i = 0; i < preset.logs; i++) taskLog(firstTask + i, logNormal(rand, logMedian, 1.3, 8 << 20));
  if (options.scheduled !== false) {
    for (const job of ["processautodeployments", "processsubscriptions", "retention", "checkformajorupgrades"]) {
      write(
        "TaskLogs",
        join(logs, `scheduledtasks_${job}.txt`),
        textOf(rand, pool, logNormal(rand, 5_000, 0.7, 256 << 10), `node ${node} ${job}\n`),
      );
    }
  }
  if (options.collideWithNode) {
    const otherFirst = (options.collideWithNode - 1) * 10_000_000 + 1;
    for (let i = 0; i < (options.collisions ?? 0); i++)
      summary.collisions.push(taskLog(otherFirst + i, logNormal(rand, 8_000, 1, 1 << 20)));
  }

  const artifactNames = ["screenshot.png", "web.config", "iis-logs.zip", "results.xml", "memory.dmp"];
  for (let i = 0; i < preset.artifacts; i++) {
    const dir = join(out, "Artifacts", "Spaces-1", `ServerTasks-${firstTask + Math.floor(i / 3)}`);
    mkdirSync(dir, { recursive: true });
    const name = `${i % 3}-${artifactNames[Math.floor(rand() * artifactNames.length)]}`;
    write(
      "Artifacts",
      join(dir, name),
      binaryOf(block, logNormal(rand, 50_000, 1.6, 48 << 20), Math.floor(rand() * block.length), `artifact ${node}/${i}\n`),
    );
  }

  for (let i = 0; i < preset.packages; i++) {
    const id = `Acme.Service${i % 10}`;
    const dir = join(out, "Packages", "Spaces-1", "feeds-builtin", id);
    mkdirSync(dir, { recursive: true });
    const size = Math.round(preset.packageMiB * (1 << 20) * (0.5 + rand()));
    write(
      "Packages",
      join(dir, `${id}.${1 + (i % 4)}.${Math.floor(i / 10)}.${node}${i}.zip`),
      binaryOf(block, size, Math.floor(rand() * block.length), `package ${node}/${i}\n`),
    );
  }
  return summary;
}

function parseArgs(argv) {
  const o = {};
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i];
    if (key === "--no-scheduled") {
      o.scheduled = false;
      continue;
    }
    const value = argv[++i];
    if (!key.startsWith("--") || value === undefined) throw new Error(`expected --name value pairs, got '${key}'`);
    const name = key.slice(2).replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    o[name] = ["node", "seed", "collideWithNode", "collisions", "logs", "artifacts", "packages", "logMedian"].includes(name)
      ? Number(value)
      : value;
  }
  if (!o.out) throw new Error("--out DIR is required");
  return o;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  try {
    process.stdout.write(JSON.stringify(makeHome(parseArgs(process.argv.slice(2))), null, 2) + "\n");
  } catch (error) {
    process.stderr.write(`make-home: ${error.message}\n`);
    process.exit(2);
  }
}
