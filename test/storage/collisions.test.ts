import { appendFileSync, existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { writeFileSync } from "node:fs";
import { copyTree, TargetReservations, type CopyOptions, type CopySummary } from "../../src/storage/index.js";
import { setTimeout as sleep } from "node:timers/promises";
import { nodeFileOps, type FileOps } from "../../src/storage/file-ops.js";
import { tempPathFor } from "../../src/storage/temp-names.js";
import { faultyOps, sha256Of, snapshot, tempDirs, writeFile } from "./helpers.js";

const dir = tempDirs();

/** Two nodes' folders that collide in every way the design names. */
function corpus(): { node1: string; node2: string } {
  const node1 = dir("node1");
  const node2 = dir("node2");
  // Same task-log name, different bytes (only possible after a DB restore; the DB owner decides).
  writeFile(node1, "TaskLogs/servertasks-5_AAAAAAAAAA.txt", "node1 wrote task 5\n");
  writeFile(node2, "TaskLogs/servertasks-5_AAAAAAAAAA.txt", "node2 wrote task 5, longer\n");
  // Scheduled-job logs: the same names on every node, the classic case.
  writeFile(node1, "TaskLogs/scheduledtasks_processsubscriptions.txt", "node1 subscriptions\n", 1_790_000_000);
  writeFile(node2, "TaskLogs/scheduledtasks_processsubscriptions.txt", "node2 subscriptions!\n", 1_790_000_500);
  // The same package on both nodes, identical bytes: not a collision.
  writeFile(node1, "Packages/Spaces-1/feeds-builtin/Acme/Acme.1.0.0.zip", "PK same bytes");
  writeFile(node2, "Packages/Spaces-1/feeds-builtin/Acme/Acme.1.0.0.zip", "PK same bytes", 1_790_000_900);
  // Case-only, across nodes and inside one node.
  writeFile(node1, "Artifacts/Report.txt", "upper R from node1");
  writeFile(node2, "Artifacts/report.txt", "lower r from node2");
  writeFile(node2, "Artifacts/dup/Foo.txt", "Foo on node2");
  writeFile(node2, "Artifacts/dup/foo.txt", "foo on node2");
  // File where the other node has a folder, and the reverse.
  writeFile(node1, "Artifacts/x", "x is a file on node1");
  writeFile(node2, "Artifacts/x/inner.txt", "inner under folder x on node2");
  writeFile(node1, "Artifacts/y/inner.txt", "inner under folder y on node1");
  writeFile(node2, "Artifacts/y", "y is a file on node2");
  return { node1, node2 };
}

/** Every source file's bytes are somewhere under the target (final place or quarantine). */
function expectNothingLost(target: string, ...sources: string[]): void {
  const found = new Set([...snapshot(target, []).values()].map((f) => f.sha256));
  for (const source of sources) for (const [rel, f] of snapshot(source)) expect(found.has(f.sha256), `${source}/${rel}`).toBe(true);
}

function byPath(summary: CopySummary): Map<string, CopySummary["collisions"][number]> {
  return new Map(summary.collisions.map((c) => [c.relPath, c]));
}

/** Every file under the target with its bytes, the manifest left out (each run appends to it). */
function onDisk(target: string): Record<string, string> {
  return Object.fromEntries(
    [...snapshot(target, []).keys()]
      .filter((rel) => !rel.startsWith(".octoha/manifest"))
      .sort()
      .map((rel) => [rel, readFileSync(path.join(target, ...rel.split("/")), "utf8")]),
  );
}

describe("merging two nodes into one target", () => {
  it("keeps the target's copy, quarantines every other one under the node's name, and loses nothing", async () => {
    const { node1, node2 } = corpus();
    const target = dir("target");
    const first = await copyTree({ source: node1, target, sourceNode: "OCTO1" });
    expect(first.collisions).toEqual([]);
    const second = await copyTree({ source: node2, target, sourceNode: "OCTO2" });
    const c = byPath(second);
    const q = path.join(target, ".octoha", "conflicts", "OCTO2");

    expect(c.get("TaskLogs/scheduledtasks_processsubscriptions.txt")).toMatchObject({ kind: "different-bytes", winner: "target" });
    expect(readFileSync(path.join(target, "TaskLogs/scheduledtasks_processsubscriptions.txt"), "utf8")).toBe("node1 subscriptions\n");
    expect(readFileSync(path.join(q, "TaskLogs/scheduledtasks_processsubscriptions.txt"), "utf8")).toBe("node2 subscriptions!\n");

    expect(c.get("Artifacts/report.txt")).toMatchObject({ kind: "case-only", targetRelPath: "Artifacts/Report.txt", winner: "target" });
    expect(readFileSync(path.join(q, "Artifacts/report.txt"), "utf8")).toBe("lower r from node2");
    expect(c.get("Artifacts/dup/foo.txt") ?? c.get("Artifacts/dup/Foo.txt")).toMatchObject({ kind: "case-only" });

    expect(c.get("Artifacts/x/inner.txt")).toMatchObject({ kind: "file-vs-folder", targetRelPath: "Artifacts/x", winner: "target" });
    expect(c.get("Artifacts/y")).toMatchObject({ kind: "file-vs-folder", targetRelPath: "Artifacts/y", winner: "target" });

    expect(c.has("Packages/Spaces-1/feeds-builtin/Acme/Acme.1.0.0.zip")).toBe(false);
    for (const collision of second.collisions) expect(collision.quarantinedAt, collision.relPath).toBeDefined();
    expect(second.collisions).toHaveLength(6);
    expectNothingLost(target, node1, node2);
  });

  it("a task-log collision keeps the copy from the node that ran the task per the database", async () => {
    const { node1, node2 } = corpus();
    const target = dir("target");
    const taskLogOwner = (rel: string): string | undefined => (rel.startsWith("TaskLogs/servertasks-5_") ? "OCTO2" : undefined);
    await copyTree({ source: node1, target, sourceNode: "OCTO1", taskLogOwner });
    const second = await copyTree({ source: node2, target, sourceNode: "OCTO2", taskLogOwner });
    const c = byPath(second).get("TaskLogs/servertasks-5_AAAAAAAAAA.txt");
    expect(c).toMatchObject({ kind: "different-bytes", winner: "source" });
    expect(readFileSync(path.join(target, "TaskLogs/servertasks-5_AAAAAAAAAA.txt"), "utf8")).toBe("node2 wrote task 5, longer\n");
    expect(readFileSync(c!.quarantinedAt!, "utf8")).toBe("node1 wrote task 5\n");
    expectNothingLost(target, node1, node2);
  });

  it("keep-newer puts the newer scheduled-task log in place and quarantines the older", async () => {
    const { node1, node2 } = corpus();
    const target = dir("target");
    await copyTree({ source: node1, target, sourceNode: "OCTO1" });
    const second = await copyTree({ source: node2, target, sourceNode: "OCTO2", collisionPolicy: "keep-newer" });
    expect(byPath(second).get("TaskLogs/scheduledtasks_processsubscriptions.txt")).toMatchObject({ winner: "source" });
    expect(readFileSync(path.join(target, "TaskLogs/scheduledtasks_processsubscriptions.txt"), "utf8")).toBe("node2 subscriptions!\n");
    expectNothingLost(target, node1, node2);
  });

  it("the fail policy stops at the first collision, naming the file", async () => {
    const { node1, node2 } = corpus();
    const target = dir("target");
    await copyTree({ source: node1, target, sourceNode: "OCTO1" });
    await expect(copyTree({ source: node2, target, sourceNode: "OCTO2", collisionPolicy: "fail", concurrency: 1 })).rejects.toMatchObject({
      code: "COPY_COLLISION",
    });
  });

  it("the fail policy names both files, the node's and the target's, so the two can be compared", async () => {
    const [node1, node2, target] = [dir("node1"), dir("node2"), dir("target")];
    const rel = "TaskLogs/scheduledtasks_processsubscriptions.txt";
    writeFile(node1, rel, "node1 subscriptions\n");
    writeFile(node2, rel, "node2 subscriptions!\n");
    await copyTree({ source: node1, target, sourceNode: "OCTO1" });
    const error = await copyTree({ source: node2, target, sourceNode: "OCTO2", collisionPolicy: "fail" }).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: "COPY_COLLISION",
      message: `Collision on '${rel}': the same name with different bytes ('${path.join(node2, rel)}' from OCTO2, '${path.join(target, rel)}' at the target)`,
    });
    expect(readFileSync(path.join(target, rel), "utf8")).toBe("node1 subscriptions\n");
  });

  it("a re-run after the merge quarantines nothing twice and reports the same collisions", async () => {
    const { node1, node2 } = corpus();
    const target = dir("target");
    await copyTree({ source: node1, target, sourceNode: "OCTO1" });
    const once = await copyTree({ source: node2, target, sourceNode: "OCTO2" });
    const before = snapshot(target, []);
    const twice = await copyTree({ source: node2, target, sourceNode: "OCTO2" });
    expect(twice.collisions.map((c) => c.relPath).sort()).toEqual(once.collisions.map((c) => c.relPath).sort());
    expect(twice.filesCopied).toBe(0);
    expect([...snapshot(target, []).keys()].sort()).toEqual([...before.keys()].sort());
  });

  it("dry-run reports the collisions it would have, and where the losers would go, writing nothing", async () => {
    const { node1, node2 } = corpus();
    const target = dir("target");
    await copyTree({ source: node1, target, sourceNode: "OCTO1" });
    const before = snapshot(target, []);
    const dry = await copyTree({ source: node2, target, sourceNode: "OCTO2", dryRun: true });
    expect(dry.collisions).toHaveLength(6);
    expect(dry.collisions.every((c) => c.quarantinedAt?.includes(path.join(".octoha", "conflicts", "OCTO2")))).toBe(true);
    expect(snapshot(target, [])).toEqual(before);
    expect(sha256Of(path.join(target, "Artifacts/Report.txt"))).toBe(sha256Of(path.join(node1, "Artifacts/Report.txt")));
  });

  it("a dry-run after the merge finds every losing copy already in quarantine (a repair run again has nothing to write), and one removed since", async () => {
    const { node1, node2 } = corpus();
    const target = dir("target");
    await copyTree({ source: node1, target, sourceNode: "OCTO1" });
    const merged = await copyTree({ source: node2, target, sourceNode: "OCTO2" });
    const first = await copyTree({ source: node2, target, sourceNode: "OCTO2", dryRun: true });
    expect(first.filesQuarantined).toBe(6);
    expect(first.quarantinesPending ?? 0).toBe(0);
    expect(new Set(first.collisions.map((c) => c.quarantinedAt))).toEqual(new Set(merged.collisions.map((c) => c.quarantinedAt)));
    // An administrator cleans one up after reviewing it: a run would write it again, and the dry-run says so.
    const removed = byPath(merged).get("TaskLogs/scheduledtasks_processsubscriptions.txt")!.quarantinedAt!;
    rmSync(removed);
    const second = await copyTree({ source: node2, target, sourceNode: "OCTO2", dryRun: true });
    expect(second.quarantinesPending).toBe(1);
    expect(existsSync(removed)).toBe(false);
  });

  it("keep-newer: a target written to while it is being replaced is kept with what was written, and that one file fails", async () => {
    const source = dir("node2");
    const target = dir("target");
    writeFile(source, "TaskLogs/pkg.log", "the newer incoming copy\n", 1_790_000_900);
    const rival = writeFile(target, "TaskLogs/pkg.log", "target line 0\n", 1_790_000_000);
    // Once the incoming copy is durable under its temp name, a live writer appends to the target.
    const ops = faultyOps({
      before: (call, p) =>
        void (call === "sync" && p.startsWith(rival + ".") && p.endsWith(".octoha-tmp") && appendFileSync(rival, "APPENDED by Octopus\n")),
    });
    const summary = await copyTree({ source, target, sourceNode: "OCTO2", collisionPolicy: "keep-newer", ops });
    expect(readFileSync(rival, "utf8")).toBe("target line 0\nAPPENDED by Octopus\n");
    expect(summary.errors.map((e) => [e.relPath, e.code])).toEqual([["TaskLogs/pkg.log", "COPY_TARGET_CHANGING"]]);
    expect(readdirSync(path.dirname(rival)).filter((n) => n.endsWith(".octoha-tmp"))).toEqual([]);
    // The target as it was when compared is in quarantine; the incoming copy is still on the node, reported.
    expect(readFileSync(path.join(target, ".octoha/conflicts/existing-target/TaskLogs/pkg.log"), "utf8")).toBe("target line 0\n");
  });

  it("a file another node writes under the same name while we copy is not replaced: it is compared and the loser quarantined", async () => {
    const source = dir("node2");
    writeFile(source, "TaskLogs/scheduledtasks_retention.txt", "node2 retention log\n");
    const target = dir("target");
    const rival = path.join(target, "TaskLogs", "scheduledtasks_retention.txt");
    // Just before our fsync, the other node's copy lands under the final name.
    const ops = faultyOps({
      before: (call, p) =>
        void (
          call === "sync" &&
          p.startsWith(rival + ".") &&
          p.endsWith(".octoha-tmp") &&
          writeFileSync(rival, "node1 retention log, other bytes\n")
        ),
    });
    const summary = await copyTree({ source, target, sourceNode: "OCTO2", ops });
    expect(readFileSync(rival, "utf8")).toBe("node1 retention log, other bytes\n");
    expect(summary.collisions).toEqual([expect.objectContaining({ kind: "different-bytes", winner: "target" })]);
    expect(readFileSync(summary.collisions[0]!.quarantinedAt!, "utf8")).toBe("node2 retention log\n");
    expect(summary.filesCopied).toBe(0);
  });
});

describe("two nodes copied into one target through one manifest (`octoha copy`'s .octoha/manifest-copy.jsonl)", () => {
  it("another node's file of the same name, size and time but other bytes is a collision, never 'already there'", async () => {
    const node1 = dir("node1");
    const node2 = dir("node2");
    const target = dir("target");
    const manifestPath = path.join(target, ".octoha", "manifest-copy.jsonl");
    // Same size, same second: only the bytes differ. And a case-variant folder, the same way.
    writeFile(node1, "TaskLogs/scheduledtasks_retention.txt", "AAAA\n");
    writeFile(node2, "TaskLogs/scheduledtasks_retention.txt", "BBBB\n");
    writeFile(node1, "Artifacts/Dir/x.txt", "one");
    writeFile(node2, "Artifacts/dir/x.txt", "two");
    // Identical bytes on both nodes: not a collision, hashed once, then vouched for.
    writeFile(node1, "Packages/Acme.1.0.0.zip", "PK same");
    writeFile(node2, "Packages/Acme.1.0.0.zip", "PK same");
    await copyTree({ source: node1, target, sourceNode: "OCTO1", manifestPath });
    const second = await copyTree({ source: node2, target, sourceNode: "OCTO2", manifestPath });
    const c = byPath(second);
    expect(c.get("TaskLogs/scheduledtasks_retention.txt")).toMatchObject({ kind: "different-bytes", winner: "target" });
    expect(c.get("Artifacts/dir/x.txt")).toMatchObject({ winner: "target" });
    expect(second.collisions).toHaveLength(2);
    expect(second.filesSkipped).toBe(1); // the identical package
    const q = path.join(target, ".octoha", "conflicts", "OCTO2");
    expect(readFileSync(path.join(q, "TaskLogs/scheduledtasks_retention.txt"), "utf8")).toBe("BBBB\n");
    expect(readFileSync(path.join(target, "TaskLogs/scheduledtasks_retention.txt"), "utf8")).toBe("AAAA\n");
    expectNothingLost(target, node1, node2);
    // The package was hashed once on each side, and found equal: OCTO2's next run trusts its record.
    const packageRecords = (): unknown[][] =>
      readFileSync(manifestPath, "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((r) => r.relPath === "Packages/Acme.1.0.0.zip" && r.sha256 !== undefined)
        .map((r) => [r.node, r.src !== undefined, r.same !== undefined]);
    await copyTree({ source: node2, target, sourceNode: "OCTO2", manifestPath });
    expect(packageRecords()).toEqual([
      ["OCTO1", true, false],
      ["OCTO2", false, true],
    ]);
    // Each node's re-run changes nothing at the target (the same collisions reported, nothing copied again).
    const files = (): string[][] =>
      [...snapshot(target, []).entries()].filter(([rel]) => !rel.startsWith(".octoha/manifest")).map(([rel, f]) => [rel, f.sha256]);
    const before = files();
    for (const [node, label] of [
      [node1, "OCTO1"],
      [node2, "OCTO2"],
    ] as const) {
      const again = await copyTree({ source: node, target, sourceNode: label, manifestPath });
      expect(again.filesCopied).toBe(0);
    }
    expect(files()).toEqual(before);
  });
});

describe("two nodes copied into one target with --verify size or none (size and mtime as proof)", () => {
  for (const verify of ["size", "none"] as const) {
    it(`--verify ${verify}: another node's file of the same name, size and time is compared, not skipped; one node's re-run reads no file`, async () => {
      const node1 = dir("node1");
      const node2 = dir("node2");
      const target = dir("target");
      const manifestPath = path.join(target, ".octoha", "manifest-copy.jsonl");
      writeFile(node1, "TaskLogs/x.txt", "node1 AAA\n");
      writeFile(node2, "TaskLogs/x.txt", "node2 BBB\n");
      await copyTree({ source: node1, target, sourceNode: "OCTO1", manifestPath });
      const second = await copyTree({ source: node2, target, sourceNode: "OCTO2", manifestPath, verify });
      expect(second.filesSkipped).toBe(0);
      expect(second.collisions).toEqual([expect.objectContaining({ kind: "different-bytes", winner: "target" })]);
      expect(readFileSync(second.collisions[0]!.quarantinedAt!, "utf8")).toBe("node2 BBB\n");
      expect(readFileSync(path.join(target, "TaskLogs/x.txt"), "utf8")).toBe("node1 AAA\n");
      // Node 1's own re-run: its record names this very file, so size and mtime are proof, nothing hashed.
      const opened: string[] = [];
      const ops = faultyOps({ before: (call, p) => void (call === "open" && !p.includes(".octoha") && opened.push(p)) });
      const again = await copyTree({ source: node1, target, sourceNode: "OCTO1", manifestPath, verify, ops });
      expect(again.filesSkipped).toBe(1);
      expect(again.collisions).toEqual([]);
      expect(opened).toEqual([]);
    });

    it(`--verify ${verify}: a target the manifest has no record of (another --state-dir, robocopy) is compared once, never skipped on size and time`, async () => {
      const node1 = dir("node1");
      const node2 = dir("node2");
      const target = dir("target");
      writeFile(node1, "TaskLogs/T-1.log", "log node one\n");
      writeFile(node2, "TaskLogs/T-1.log", "log node two\n");
      writeFile(node2, "TaskLogs/same.log", "identical\n");
      writeFile(node2, "TaskLogs/empty.log", "");
      // Node 1 through the target's own manifest; node 2 through another state folder that has never seen the target.
      await copyTree({ source: node1, target, sourceNode: "OCTO1", manifestPath: path.join(target, ".octoha", "manifest-copy.jsonl") });
      writeFile(target, "TaskLogs/same.log", "identical\n"); // robocopy's copy: no manifest knows it
      writeFile(target, "TaskLogs/empty.log", "");
      const manifestPath = path.join(dir("state2"), "manifest-copy.jsonl");
      const second = await copyTree({ source: node2, target, sourceNode: "OCTO2", manifestPath, verify });
      expect(second.collisions).toEqual([
        expect.objectContaining({ relPath: "TaskLogs/T-1.log", kind: "different-bytes", winner: "target" }),
      ]);
      expect(readFileSync(second.collisions[0]!.quarantinedAt!, "utf8")).toBe("log node two\n");
      expect(readFileSync(path.join(target, "TaskLogs/T-1.log"), "utf8")).toBe("log node one\n");
      expect(second.filesSkipped).toBe(2); // same.log (hashed, equal) and empty.log (its size is all its bytes)
      // The equal file is now recorded as this source file's: the next run reads no file but the quarantined one's.
      const opened: string[] = [];
      const ops = faultyOps({ before: (call, p) => void (call === "open" && !p.includes(".octoha") && opened.push(p)) });
      const again = await copyTree({ source: node2, target, sourceNode: "OCTO2", manifestPath, verify, ops });
      expect(again.filesSkipped).toBe(2);
      expect(opened.filter((p) => !p.endsWith("T-1.log") && !p.startsWith(path.dirname(manifestPath)))).toEqual([]);
    });
  }
});

describe("case variants inside one node's folder", () => {
  it("finds a pair that sorts hundreds of names apart, also through the Kelvin sign, and loses neither", async () => {
    const node = dir("variants");
    for (let i = 0; i < 700; i++) writeFile(node, `TaskLogs/servertasks-${i}_A.txt`, `task ${i}\n`);
    writeFile(node, "TaskLogs/Log.txt", "upper L");
    writeFile(node, "TaskLogs/log.txt", "lower l");
    writeFile(node, "TaskLogs/\u212Aey.txt", "Kelvin sign");
    writeFile(node, "TaskLogs/key.txt", "plain k");
    const target = dir("variants-target");
    const summary = await copyTree({ source: node, target, sourceNode: "OCTO1" });
    const c = byPath(summary);
    expect(c.get("TaskLogs/log.txt")).toMatchObject({ kind: "case-only", targetRelPath: "TaskLogs/Log.txt" });
    // The Kelvin sign is three bytes from 0xE2: "key.txt" sorts first and is the one copied.
    expect(c.get("TaskLogs/\u212Aey.txt")).toMatchObject({ kind: "case-only", targetRelPath: "TaskLogs/key.txt" });
    expect(summary.collisions).toHaveLength(2);
    expect(summary.filesCopied).toBe(702);
    expect(readFileSync(path.join(target, "TaskLogs/servertasks-699_A.txt"), "utf8")).toBe("task 699\n");
    expectNothingLost(target, node);
  });
});

describe("keep-newer with three case variants of one name in one node's folder", () => {
  const variants = [
    { name: "A.txt", bytes: "A".repeat(300_000), mtime: 1_700_000_000 },
    { name: "a.TXT", bytes: "b".repeat(300_000), mtime: 1_710_000_000 },
    { name: "a.txt", bytes: "c".repeat(300_000), mtime: 1_720_000_000 },
  ];
  /** Every quarantine copy's rename waits: a second job on the same name, if let in, meets its temp file. */
  const slowQuarantine: FileOps = {
    ...nodeFileOps,
    rename: async (from, to) => {
      if (to.includes(`${path.sep}conflicts${path.sep}`)) await sleep(150);
      return nodeFileOps.rename(from, to);
    },
  };

  for (const firstRun of ["all three", "only A.txt"])
    it(`(${firstRun} in the first run) one job after another: the newest in place, the others quarantined, every run clean`, async () => {
      const node = dir("variants");
      const target = dir("variants-target");
      const copy = () => copyTree({ source: node, target, sourceNode: "OCTO1", collisionPolicy: "keep-newer", ops: slowQuarantine });
      for (const v of variants.slice(0, firstRun === "all three" ? 3 : 1)) writeFile(node, `TaskLogs/${v.name}`, v.bytes, v.mtime);
      expect((await copy()).errors).toEqual([]);
      for (const v of variants) writeFile(node, `TaskLogs/${v.name}`, v.bytes, v.mtime);

      for (let run = 0; run < 2; run++) expect((await copy()).errors).toEqual([]);
      expect(readFileSync(path.join(target, "TaskLogs", "A.txt"), "utf8")).toBe(variants[2]!.bytes);
      expectNothingLost(target, node);
      const settled = snapshot(target, []);
      const last = await copy();
      expect(last.errors).toEqual([]);
      expect(last.filesCopied).toBe(0);
      expect(snapshot(target, [])).toEqual(settled);
    });
});

describe("keep-newer with case variants: the quarantine names whose copy lost, and a re-run changes nothing", () => {
  it("node B's earlier copy and node A's three variants: the newest in place, each loser once, under the node it came from", async () => {
    const nodeB = dir("nodeB");
    const nodeA = dir("nodeA");
    const target = dir("target");
    const manifestPath = path.join(target, ".octoha", "manifest-copy.jsonl");
    writeFile(nodeB, "T/A.txt", "B's A.txt, oldest", 1_690_000_000);
    writeFile(nodeA, "T/A.txt", "A's A.txt", 1_700_000_000);
    writeFile(nodeA, "T/a.TXT", "A's a.TXT, newer", 1_710_000_000);
    writeFile(nodeA, "T/a.txt", "A's a.txt, newest of all", 1_720_000_000);
    const copy = (source: string, sourceNode: string) =>
      copyTree({ source, target, sourceNode, manifestPath, collisionPolicy: "keep-newer" });
    await copy(nodeB, "B");

    const first = await copy(nodeA, "A");
    expect(first.errors).toEqual([]);
    expect(onDisk(target)).toEqual({
      "T/A.txt": "A's a.txt, newest of all",
      ".octoha/conflicts/existing-target/T/A.txt": "B's A.txt, oldest",
      ".octoha/conflicts/A/T/A.txt": "A's A.txt",
      ".octoha/conflicts/A/T/a.TXT": "A's a.TXT, newer",
    });
    const q = path.join(target, ".octoha", "conflicts");
    expect(first.collisions.map((c) => [c.relPath, c.winner, c.quarantinedAt])).toEqual([
      ["T/A.txt", "source", path.join(q, "existing-target", "T", "A.txt")],
      ["T/a.TXT", "source", path.join(q, "A", "T", "A.txt")],
      ["T/a.txt", "source", path.join(q, "A", "T", "a.TXT")],
    ]);

    const settled = onDisk(target);
    const second = await copy(nodeA, "A");
    expect(second.errors).toEqual([]);
    expect(second.filesCopied).toBe(0);
    expect(onDisk(target)).toEqual(settled);
  });

  it("two variants with the same bytes, then a newer one: their bytes quarantined once (one version), and the next run changes nothing", async () => {
    const node = dir("node");
    const target = dir("target");
    const manifestPath = path.join(target, ".octoha", "manifest-copy.jsonl");
    const copy = () => copyTree({ source: node, target, sourceNode: "A", manifestPath, collisionPolicy: "keep-newer" });
    writeFile(node, "T/A.txt", "the same bytes", 1_700_000_000);
    writeFile(node, "T/a.TXT", "the same bytes", 1_700_000_000);
    writeFile(node, "T/a.txt", "the newest bytes", 1_710_000_000);

    expect((await copy()).errors).toEqual([]);
    const settled = onDisk(target);
    expect(settled).toEqual({
      "T/A.txt": "the newest bytes",
      ".octoha/conflicts/A/T/A.txt": "the same bytes",
    });
    const again = await copy();
    expect(again.errors).toEqual([]);
    expect(again.filesCopied).toBe(0);
    expect(onDisk(target)).toEqual(settled);
  });

  // Two of a.txt, A.txt, A.TXT hold the same bytes, in every order of their three mtimes. Those two
  // are one version, dated by the newer of them: before, the first one's older time stayed in place,
  // a variant between them in time replaced it (quarantining the same bytes twice, and the newest
  // under no name the report gave), and the next run undid that.
  const variants = ["a.txt", "A.txt", "A.TXT"];
  for (const same of [
    [0, 1],
    [0, 2],
    [1, 2],
  ])
    it(`identical bytes in ${same.map((i) => variants[i]).join(" and ")}: the newest version in place with its time, the other quarantined once; dry-run = run; the next run changes nothing`, async () => {
      const orders = [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
      ];
      for (const order of orders) {
        const node = dir("node");
        const target = dir("target");
        const manifestPath = path.join(target, ".octoha", "manifest-copy.jsonl");
        const copy = (dryRun = false) =>
          copyTree({ source: node, target, sourceNode: "N1", manifestPath, collisionPolicy: "keep-newer", dryRun });
        const day = (i: number): number => 1_700_000_000 + order[i]! * 86_400;
        const bytes = (i: number): string => (same.includes(i) ? "SAME" : `content-${i}`);
        variants.forEach((name, i) => writeFile(node, name, bytes(i), day(i)));
        const what = `mtime order ${order.join(",")}`;
        const newest = order.indexOf(2);
        const other = [0, 1, 2].find((i) => !same.includes(i))!;
        // The version that loses: the other file's bytes, or the identical pair's (its newer copy's mtime decides).
        const sameTime = Math.max(...same.map(day));
        const loser = same.includes(newest) ? other : same.find((i) => day(i) === sameTime)!;

        const dry = await copy(true);
        const run = await copy();
        expect(run.errors, what).toEqual([]);
        const said = (s: CopySummary) => ({
          copied: s.filesCopied,
          skipped: s.filesSkipped,
          quarantined: s.filesQuarantined ?? 0,
          collisions: s.collisions.map((c) => [c.relPath, c.winner, c.quarantinedAt]),
        });
        expect(said(dry), what).toEqual(said(run));

        const settled = onDisk(target);
        const [placed] = Object.keys(settled).filter((rel) => !rel.startsWith(".octoha/"));
        expect(settled[placed!], what).toBe(bytes(newest));
        expect(statSync(path.join(target, placed!)).mtimeMs, what).toBe(day(newest) * 1000);
        // The losing version quarantined once. Turns go in walk order, so an older copy of the
        // winning bytes that a variant between them in time replaced is in quarantine too (once).
        const quarantined = Object.entries(settled).filter(([rel]) => rel.startsWith(".octoha/"));
        const kept = quarantined.map(([, b]) => b);
        expect(
          kept.filter((b) => b === bytes(loser)),
          what,
        ).toHaveLength(1);
        expect(new Set(kept).size, what).toBe(kept.length);
        for (const b of kept) expect([bytes(loser), bytes(newest)], what).toContain(b);
        // The report names every quarantined file, and no other.
        const named = run.collisions.filter((c) => c.quarantinedAt !== undefined).map((c) => c.quarantinedAt);
        expect(new Set(named), what).toEqual(new Set(quarantined.map(([rel]) => path.join(target, ...rel.split("/")))));

        const again = await copy();
        expect([again.errors, again.filesCopied], what).toEqual([[], 0]);
        expect(onDisk(target), what).toEqual(settled);
        expect(statSync(path.join(target, placed!)).mtimeMs, what).toBe(day(newest) * 1000);
      }
    });

  // A variant that appears on the node after its folder was copied replaces this node's own earlier
  // copy: whichever of the two names the target kept, that copy is quarantined as this node's file.
  for (const [first, later] of [
    ["A.txt", "a.txt"],
    ["a.txt", "A.txt"],
  ] as const)
    it(`${first} copied in an earlier run, then a newer ${later} on the node: ${first} quarantined as node A's, and the next run changes nothing`, async () => {
      const node = dir("node");
      const target = dir("target");
      const manifestPath = path.join(target, ".octoha", "manifest-copy.jsonl");
      const copy = () => copyTree({ source: node, target, sourceNode: "A", manifestPath, collisionPolicy: "keep-newer" });
      writeFile(node, `T/${first}`, `the first ${first}`, 1_700_000_000);
      await copy();
      writeFile(node, `T/${later}`, `the newer ${later}`, 1_710_000_000);

      const replaced = await copy();
      expect(replaced.errors).toEqual([]);
      const settled = onDisk(target);
      expect(settled).toEqual({
        [`T/${first}`]: `the newer ${later}`,
        [`.octoha/conflicts/A/T/${first}`]: `the first ${first}`,
      });
      const again = await copy();
      expect(again.errors).toEqual([]);
      expect(again.filesCopied).toBe(0);
      expect(onDisk(target)).toEqual(settled);
    });
});

describe("this run's own temp name for a file already taken", () => {
  it("fails that one file with COPY_TEMP_TAKEN, touches neither file, and copies the rest", async () => {
    const node = dir("node");
    const target = dir("target");
    for (let i = 0; i < 5; i++) writeFile(node, `TaskLogs/servertasks-${i}_log.txt`, `task ${i}\n`);
    writeFile(node, "TaskLogs/scheduled.txt", "newer, from the node\n", 1_790_000_500);
    const replaced = writeFile(target, "TaskLogs/scheduled.txt", "older, at the target\n", 1_790_000_000);
    const taken = tempPathFor(replaced);
    writeFileSync(taken, "another write of this run\n");

    const summary = await copyTree({ source: node, target, sourceNode: "OCTO1", collisionPolicy: "keep-newer" });

    expect(summary.errors).toEqual([expect.objectContaining({ relPath: "TaskLogs/scheduled.txt", code: "COPY_TEMP_TAKEN" })]);
    expect(summary.errors[0]!.message).toContain(taken);
    expect(summary.filesCopied).toBe(5);
    expect(readFileSync(replaced, "utf8")).toBe("older, at the target\n");
    expect(readFileSync(taken, "utf8")).toBe("another write of this run\n");
  });
});

describe("dry-run of several nodes into one target (reservations of earlier nodes)", () => {
  /** Dry-run node1 then node2 sharing reservations, then really copy them in the same order. */
  async function dryThenReal(extra: Partial<CopyOptions> = {}) {
    const { node1, node2 } = corpus();
    // Same size, different bytes: only the SHA-256 can tell them apart.
    writeFile(node1, "TaskLogs/scheduledtasks_cleanup.txt", "aaaa");
    writeFile(node2, "TaskLogs/scheduledtasks_cleanup.txt", "bbbb");
    const target = dir("target");
    const reservations = new TargetReservations();
    const dry1 = await copyTree({ source: node1, target, sourceNode: "OCTO1", dryRun: true, reservations, ...extra });
    const dry2 = await copyTree({ source: node2, target, sourceNode: "OCTO2", dryRun: true, reservations, ...extra });
    const writtenByDryRun = snapshot(target, []).size;
    const real1 = await copyTree({ source: node1, target, sourceNode: "OCTO1", ...extra });
    const real2 = await copyTree({ source: node2, target, sourceNode: "OCTO2", ...extra });
    return { dry1, dry2, real1, real2, writtenByDryRun, target };
  }
  const facts = (s: CopySummary) => s.collisions.map(({ targetNode: _, ...c }) => c).sort((a, b) => a.relPath.localeCompare(b.relPath));

  it("predicts every collision between the nodes (bytes, case-only, file vs folder) with the run's winner and quarantine path, writing nothing", async () => {
    const r = await dryThenReal();
    expect(r.writtenByDryRun).toBe(0);
    const c = byPath(r.dry2);
    expect(c.get("TaskLogs/scheduledtasks_processsubscriptions.txt")).toMatchObject({
      kind: "different-bytes",
      winner: "target",
      targetNode: "OCTO1",
    });
    expect(c.get("TaskLogs/scheduledtasks_cleanup.txt")).toMatchObject({ kind: "different-bytes", winner: "target", targetNode: "OCTO1" });
    expect(c.get("Artifacts/report.txt")).toMatchObject({
      kind: "case-only",
      targetRelPath: "Artifacts/Report.txt",
      winner: "target",
      targetNode: "OCTO1",
    });
    expect(c.get("Artifacts/x/inner.txt")).toMatchObject({ kind: "file-vs-folder", targetRelPath: "Artifacts/x", winner: "target" });
    expect(c.get("Artifacts/y")).toMatchObject({ kind: "file-vs-folder", targetRelPath: "Artifacts/y", winner: "target" });
    // Identical bytes on both nodes are not a collision, and the dry-run says the copy would be skipped.
    expect(c.has("Packages/Spaces-1/feeds-builtin/Acme/Acme.1.0.0.zip")).toBe(false);
    expect(facts(r.dry1)).toEqual(facts(r.real1));
    expect(facts(r.dry2)).toEqual(facts(r.real2));
    expect(r.dry2.filesCopied).toBe(r.real2.filesCopied);
    expect(r.dry2.filesSkipped).toBe(r.real2.filesSkipped);
  });

  it("a task-log collision is predicted with the node that ran the task (per the database) as winner", async () => {
    const taskLogOwner = (rel: string): string | undefined => (rel.startsWith("TaskLogs/servertasks-5_") ? "OCTO2" : undefined);
    const r = await dryThenReal({ taskLogOwner });
    expect(byPath(r.dry2).get("TaskLogs/servertasks-5_AAAAAAAAAA.txt")).toMatchObject({
      winner: "source",
      targetNode: "OCTO1",
      quarantinedAt: path.join(r.target, ".octoha", "conflicts", "existing-target", "TaskLogs", "servertasks-5_AAAAAAAAAA.txt"),
    });
    expect(facts(r.dry2)).toEqual(facts(r.real2));
  });

  it("keep-newer is predicted from the nodes' modification times, as the run decides", async () => {
    const r = await dryThenReal({ collisionPolicy: "keep-newer" });
    expect(byPath(r.dry2).get("TaskLogs/scheduledtasks_processsubscriptions.txt")).toMatchObject({ winner: "source" });
    expect(facts(r.dry2)).toEqual(facts(r.real2));
  });

  it("without reservations each node's dry-run sees only the real target (one node at a time)", async () => {
    const { node2 } = corpus();
    const dry = await copyTree({ source: node2, target: dir("target"), sourceNode: "OCTO2", dryRun: true });
    expect(dry.collisions.map((c) => c.relPath)).toEqual(["Artifacts/dup/foo.txt"]);
  });
});

describe("dry-run of keep-newer with case variants predicts the run", () => {
  /** What a summary says the copy does: its collisions (winner, where the loser goes) and counts. */
  const outcome = (s: CopySummary) => ({
    collisions: s.collisions.map(({ targetNode: _, ...c }) => c).sort((a, b) => a.relPath.localeCompare(b.relPath)),
    copied: s.filesCopied,
    skipped: s.filesSkipped,
    quarantined: s.filesQuarantined ?? 0,
  });
  const names = ["A.txt", "a.TXT", "a.txt"];
  // Orders of the mtimes of node B's T/A.txt (0) and node A's variants (1-3), the first one newest:
  // each variant replacing the one before it; a middle one winning, so the last one loses to it
  // (before, the dry-run compared every variant with the first and named the last one the winner);
  // A.txt winning over variants on both sides; node B's copy winning over all of node A's.
  const orders = [
    [3, 2, 1, 0],
    [2, 3, 0, 1],
    [1, 3, 0, 2],
    [0, 3, 2, 1],
  ];

  for (const earlier of ["copied", "dry-run only"] as const)
    it(`node B's T/A.txt (${earlier} before), node A's A.txt, a.TXT, a.txt: in several orders of their mtimes, the dry-run names the run's winner and quarantine, and a second run changes nothing`, async () => {
      for (const order of orders) {
        const nodeB = dir("nodeB");
        const nodeA = dir("nodeA");
        const target = dir("target");
        const manifestPath = path.join(target, ".octoha", "manifest-copy.jsonl");
        const mtime = (i: number): number => 1_700_000_000 - order.indexOf(i) * 1000;
        writeFile(nodeB, "T/A.txt", "node B's A.txt", mtime(0));
        names.forEach((name, i) => writeFile(nodeA, `T/${name}`, `node A's ${name}`, mtime(i + 1)));
        const copy = (source: string, sourceNode: string, extra: Partial<CopyOptions> = {}) =>
          copyTree({ source, target, sourceNode, manifestPath, collisionPolicy: "keep-newer", ...extra });
        const reservations = new TargetReservations();
        if (earlier === "copied") await copy(nodeB, "B");
        else await copy(nodeB, "B", { dryRun: true, reservations });

        const dry = await copy(nodeA, "A", { dryRun: true, reservations });
        if (earlier === "dry-run only") await copy(nodeB, "B");
        const real = await copy(nodeA, "A");
        const what = `order ${order.join(",")}`;
        expect(real.errors, what).toEqual([]);
        expect(outcome(dry), what).toEqual(outcome(real));
        const newest = order[0] === 0 ? "node B's A.txt" : `node A's ${names[order[0]! - 1]}`;
        expect(readFileSync(path.join(target, "T", "A.txt"), "utf8"), what).toBe(newest);

        const settled = onDisk(target);
        expect(
          Object.keys(settled).filter((rel) => rel.startsWith(".octoha/conflicts/")),
          what,
        ).toHaveLength(3);
        const dryAgain = await copy(nodeA, "A", { dryRun: true });
        expect([dryAgain.filesCopied, dryAgain.quarantinesPending ?? 0], what).toEqual([0, 0]);
        expect((await copy(nodeA, "A")).filesCopied, what).toBe(0);
        expect(onDisk(target), what).toEqual(settled);
      }
    });

  it("a losing variant whose earlier bytes are quarantined already: the dry-run names the run's next free name (.1)", async () => {
    const node = dir("node");
    const target = dir("target");
    const manifestPath = path.join(target, ".octoha", "manifest-copy.jsonl");
    const copy = (dryRun = false) =>
      copyTree({ source: node, target, sourceNode: "A", manifestPath, collisionPolicy: "keep-newer", dryRun });
    writeFile(node, "T/A.txt", "the newest", 1_720_000_000);
    writeFile(node, "T/a.txt", "older, first bytes", 1_700_000_000);
    await copy();
    writeFile(node, "T/a.txt", "older, rewritten", 1_710_000_000);

    const dry = await copy(true);
    const real = await copy();
    const q = path.join(target, ".octoha", "conflicts", "A", "T");
    expect(byPath(real).get("T/a.txt")?.quarantinedAt).toBe(path.join(q, "a.txt.1"));
    expect(byPath(dry).get("T/a.txt")?.quarantinedAt).toBe(path.join(q, "a.txt.1"));
    expect(readFileSync(path.join(q, "a.txt.1"), "utf8")).toBe("older, rewritten");
  });
});
