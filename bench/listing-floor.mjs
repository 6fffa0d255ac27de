#!/usr/bin/env node
// The least a Node program does for a copy's no-op re-run, or with --dry-run for a dry-run: every
// folder of SRC (and DST) read whole with fs.readdir, every file lstat'ed through node:fs's callback
// lstat with 64 in flight, and each source file's size and mtime compared with the target file of
// the same case-folded name. Nothing else: no manifest, no plan, no report, no bound on memory. So
// `octoha no-op / this` is what octoha's own code costs, and `this / rsync's no-op` what Node's
// asynchronous lstat costs against rsync's synchronous one on the same machine.
//
// --threads: the lstats on two worker threads instead, one per side (as rsync's sender and
// receiver each lstat their own), 4,096 names a message, each made through node:fs's binding as
// octoha's lstat thread makes them (lstatSync where the binding is not there). octoha makes its
// lstats on a thread, so this is the floor under it today.
//
//   node bench/listing-floor.mjs SRC DST [--dry-run] [--threads]     prints: files, same, seconds
import fs from "node:fs";
import path from "node:path";
import { Worker } from "node:worker_threads";

const IN_FLIGHT = 64;
const [src, dst] = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const dryRun = process.argv.includes("--dry-run");
const threads = process.argv.includes("--threads");
if (!src || !dst) throw new Error("usage: listing-floor.mjs SRC DST [--dry-run] [--threads]");

const entries = (dir) =>
  new Promise((resolve, reject) =>
    fs.readdir(dir, { withFileTypes: true }, (error, list) =>
      error ? (error.code === "ENOENT" ? resolve([]) : reject(error)) : resolve(list),
    ),
  );

/** lstat of each name under dir, IN_FLIGHT at a time: [size, mtimeMs] or undefined when gone. */
const lstatAll = (dir, names) =>
  new Promise((resolve) => {
    const out = new Array(names.length);
    let next = 0;
    let running = 0;
    if (names.length === 0) resolve(out);
    const start = (k) => {
      running++;
      fs.lstat(dir + path.sep + names[k], (error, s) => {
        running--;
        if (!error) out[k] = [s.size, s.mtimeMs];
        if (next < names.length) start(next++);
        else if (running === 0) resolve(out);
      });
    };
    while (next < names.length && running < IN_FLIGHT) start(next++);
  });

/** Names a --threads message carries. */
const THREAD_BATCH = 4096;
const WORKER = `
const { parentPort } = require("node:worker_threads");
const { lstatSync } = require("node:fs");
const { toNamespacedPath } = require("node:path");
const binding = typeof process.binding === "function" ? process.binding("fs") : undefined;
parentPort.on("message", ({ id, prefix, joined }) => {
  const names = joined.split("\\0");
  const facts = new Float64Array(2 * names.length).fill(-1);
  for (let i = 0; i < names.length; i++) {
    try {
      if (binding) {
        const v = binding.lstat(toNamespacedPath(prefix + names[i]), false, undefined, false);
        if (v) [facts[2 * i], facts[2 * i + 1]] = [v[8], v[12] * 1000 + v[13] / 1e6];
      } else {
        const s = lstatSync(prefix + names[i], { throwIfNoEntry: false });
        if (s) [facts[2 * i], facts[2 * i + 1]] = [s.size, s.mtimeMs];
      }
    } catch {
      // unreadable: left out, as lstatAll leaves out an lstat that fails (never a hung batch)
    }
  }
  parentPort.postMessage({ id, facts }, [facts.buffer]);
});`;

/** A worker that lstats batches of names: lstatAll's answer, on its own thread. */
const workers = [];
function lstatThread() {
  const worker = new Worker(WORKER, { eval: true });
  workers.push(worker);
  const waiting = new Map();
  let nextId = 0;
  worker.on("message", ({ id, facts }) => {
    waiting.get(id)(facts);
    waiting.delete(id);
  });
  const batch = (prefix, names) =>
    new Promise((resolve) => {
      const id = nextId++;
      waiting.set(id, resolve);
      worker.postMessage({ id, prefix, joined: names.join("\0") });
    });
  return async (dir, names) => {
    const asked = [];
    for (let i = 0; i < names.length; i += THREAD_BATCH) asked.push(batch(dir + path.sep, names.slice(i, i + THREAD_BATCH)));
    const out = new Array(names.length);
    (await Promise.all(asked)).forEach((facts, b) => {
      for (let k = 0; k < facts.length / 2; k++) if (facts[2 * k] >= 0) out[b * THREAD_BATCH + k] = [facts[2 * k], facts[2 * k + 1]];
    });
    return out;
  };
}
const [lstatSources, lstatTargets] = threads ? [lstatThread(), lstatThread()] : [lstatAll, lstatAll];

let files = 0;
let same = 0;
const started = performance.now();
for (const stack = [""]; stack.length > 0;) {
  const rel = stack.pop();
  const [here, there] = await Promise.all([entries(path.join(src, rel)), dryRun ? [] : entries(path.join(dst, rel))]);
  const names = here.filter((d) => d.isFile()).map((d) => d.name);
  for (const d of here) if (d.isDirectory()) stack.push(path.join(rel, d.name));
  const theirs = there.filter((d) => d.isFile()).map((d) => d.name);
  // libuv: one side after the other (both at once, 128 lstats in flight, measured slower on 2
  // cores); --threads: both at once, a thread each.
  const [targets, mine] = threads
    ? await Promise.all([lstatTargets(path.join(dst, rel), theirs), lstatSources(path.join(src, rel), names)])
    : [await lstatTargets(path.join(dst, rel), theirs), await lstatSources(path.join(src, rel), names)];
  const byName = new Map(theirs.map((name, k) => [name.toLowerCase(), targets[k]]));
  names.forEach((name, k) => {
    files++;
    const t = byName.get(name.toLowerCase());
    if (t && mine[k] && t[0] === mine[k][0] && Math.abs(t[1] - mine[k][1]) < 1) same++;
  });
}
console.log(JSON.stringify({ files, same, seconds: (performance.now() - started) / 1000 }));
for (const worker of workers) await worker.terminate();
