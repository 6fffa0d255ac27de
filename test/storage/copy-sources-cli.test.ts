/**
 * Several sources into one target through `octoha copy`, as an operator copies nodes' folders from
 * one machine (issue 10, item 1): a copy replaces a target only when the manifest proves it wrote
 * it from this very source file; any other different file is a collision, reported and quarantined.
 */
import { spawnSync } from "node:child_process";
import { appendFileSync, existsSync, readFileSync, readdirSync, renameSync, symlinkSync, utimesSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { CLI } from "../helpers/cli.js";
import { copyTree } from "../../src/storage/index.js";
import { nodeFileOps, type FileOps } from "../../src/storage/file-ops.js";
import { sha256Of, tempDirs, writeFile } from "./helpers.js";
import { resultOf } from "../helpers/envelope.js";

const dir = tempDirs();

interface Summary {
  filesCopied: number;
  filesUpdated?: number;
  filesQuarantined?: number;
  collisions: { relPath: string; kind: string; winner: string; quarantinedAt?: string }[];
}

function copy(...args: string[]): Summary {
  const r = spawnSync(process.execPath, [CLI, "copy", ...args, "--json"], { encoding: "utf8", timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  return resultOf<Summary>(r.stdout, "copy", 0);
}

/** A node folder with the names every node has (scheduled-task logs) and one task log of its own. */
function nodeFolder(label: string, mtime: number): string {
  const root = dir(label);
  for (const job of ["processsubscriptions", "retention", "healthcheck"]) {
    writeFile(root, `scheduledtasks_${job}.txt`, `${label} ran ${job}\n`.repeat(label.length), mtime);
  }
  writeFile(root, `servertasks-${label}_ABCDEFGHIJ.txt`, `task log of ${label}\n`, mtime);
  return root;
}

describe("copying two nodes' folders from one machine into one target, without --node", () => {
  it("never replaces the first node's files with the second's: every different one is a collision, quarantined", () => {
    const octo1 = nodeFolder("OCTO1", 1_790_000_000);
    const octo2 = nodeFolder("OCTO2-longer", 1_790_000_500); // other sizes, newer: looks like "grown"
    const target = dir("target");
    const first = copy(octo1, target);
    expect(first.filesCopied).toBe(4);
    const second = copy(octo2, target);

    expect(second.filesUpdated ?? 0).toBe(0);
    expect(second.collisions.map((c) => c.relPath).sort()).toEqual([
      "scheduledtasks_healthcheck.txt",
      "scheduledtasks_processsubscriptions.txt",
      "scheduledtasks_retention.txt",
    ]);
    expect(second.collisions.every((c) => c.kind === "different-bytes" && c.winner === "target")).toBe(true);
    expect(second.filesQuarantined).toBe(3);
    for (const job of ["processsubscriptions", "retention", "healthcheck"]) {
      const name = `scheduledtasks_${job}.txt`;
      expect(sha256Of(path.join(target, name)), name).toBe(sha256Of(path.join(octo1, name)));
      const lost = second.collisions.find((c) => c.relPath === name)!;
      expect(sha256Of(lost.quarantinedAt!), name).toBe(sha256Of(path.join(octo2, name)));
    }
    // Each source got a quarantine label of its own (never the shared host name).
    const labels = readdirSync(path.join(target, ".octoha", "conflicts"));
    expect(labels).toHaveLength(1);
    expect(labels[0]).toMatch(/^source-[0-9a-f]{8}$/);
  });

  it("a second node's file of the same name, size and mtime but other bytes is quarantined, not skipped as 'already there'", () => {
    const one = dir("same-time-1");
    const two = dir("same-time-2");
    writeFile(one, "x.txt", "AAAA\n", 1_704_103_200);
    writeFile(two, "x.txt", "BBBB\n", 1_704_103_200);
    const target = dir("same-time-target");
    copy(one, target, "--node", "N1");
    const second = copy(two, target, "--node", "N2");
    expect(second.filesQuarantined).toBe(1);
    expect(second.collisions).toMatchObject([{ relPath: "x.txt", kind: "different-bytes", winner: "target" }]);
    expect(readFileSync(path.join(target, "x.txt"), "utf8")).toBe("AAAA\n");
    expect(readFileSync(path.join(target, ".octoha", "conflicts", "N2", "x.txt"), "utf8")).toBe("BBBB\n");
  });

  it("the same holds when both are given the same --node by mistake", () => {
    const octo1 = nodeFolder("OCTO1", 1_790_000_000);
    const octo2 = nodeFolder("OCTO2-longer", 1_790_000_500);
    const target = dir("target");
    copy(octo1, target, "--node", "OCTO1");
    const second = copy(octo2, target, "--node", "OCTO1");
    expect(second.filesUpdated ?? 0).toBe(0);
    expect(second.collisions).toHaveLength(3);
    expect(readFileSync(path.join(target, "scheduledtasks_retention.txt"), "utf8")).toBe(
      readFileSync(path.join(octo1, "scheduledtasks_retention.txt"), "utf8"),
    );
  });

  it("another folder mounted (or created) where the first one was is another source", () => {
    const parent = dir("mnt");
    const mount = path.join(parent, "node");
    const octo1 = nodeFolder("OCTO1", 1_790_000_000);
    renameSync(octo1, mount);
    const target = dir("target");
    copy(mount, target);
    renameSync(mount, path.join(parent, "octo1-unmounted"));
    renameSync(nodeFolder("OCTO2-longer", 1_790_000_500), mount);
    const second = copy(mount, target);
    expect(second.filesUpdated ?? 0).toBe(0);
    expect(second.collisions).toHaveLength(3);
    expect(readFileSync(path.join(target, "scheduledtasks_retention.txt"), "utf8")).toBe("OCTO1 ran retention\n".repeat(5));
  });

  it("a log of the same source that grew since the last copy is replaced by its newer bytes, not quarantined", () => {
    const octo1 = nodeFolder("OCTO1", 1_790_000_000);
    const target = dir("target");
    copy(octo1, target);
    const grown = path.join(octo1, "scheduledtasks_retention.txt");
    appendFileSync(grown, "and ran again\n");
    utimesSync(grown, 1_790_000_100, 1_790_000_100);
    const again = copy(octo1, target);
    expect(again.filesUpdated).toBe(1);
    expect(again.collisions).toEqual([]);
    expect(sha256Of(path.join(target, "scheduledtasks_retention.txt"))).toBe(sha256Of(grown));
    expect(existsSync(path.join(target, ".octoha", "conflicts"))).toBe(false);
  });
});

/** The latest manifest record per target path. */
function manifestOf(target: string): Map<string, string> {
  const lines = readFileSync(path.join(target, ".octoha", "manifest-copy.jsonl"), "utf8")
    .split("\n")
    .filter((l) => l.endsWith("}"));
  return new Map(lines.map((l) => JSON.parse(l) as { relPath: string; sha256: string }).map((r) => [r.relPath, r.sha256]));
}

describe("source folders whose names differ only in case (one folder on a Windows share)", () => {
  it("meet each other's files in one index: one copy stays, the other is quarantined and reported, and the manifest agrees with the bytes, every run", () => {
    const source = dir("node");
    const pairs = 24;
    for (let i = 0; i < pairs; i++) {
      // Different sizes, so no run can pass by finding equal bytes.
      writeFile(source, `Dir/log-${i}.txt`, `upper ${i}\n`.repeat(50 + i));
      writeFile(source, `dir/log-${i}.txt`, `lower ${i}\n`.repeat(80 + i));
      writeFile(source, `Dir/sub/deep-${i}.txt`, `upper deep ${i}\n`.repeat(10 + i));
      writeFile(source, `dir/SUB/deep-${i}.txt`, `lower deep ${i}\n`.repeat(30 + i));
    }
    writeFile(source, "Dir/Report.txt", "upper report");
    writeFile(source, "dir/report.txt", "lower report, other bytes");
    writeFile(source, "dir/only-lower.txt", "only in dir/");
    for (let run = 0; run < 6; run++) {
      const target = dir("target");
      const summary = copy(source, target, "--concurrency", "16");
      const [top] = readdirSync(target).filter((n) => n !== ".octoha");
      expect(
        readdirSync(target).filter((n) => n !== ".octoha"),
        `run ${run}: one folder at the target`,
      ).toHaveLength(1);
      const manifest = manifestOf(target);
      const collided = new Set(summary.collisions.map((c) => c.relPath.toLowerCase()));
      const check = (upperRel: string, lowerRel: string): void => {
        const at = path.join(target, top!, ...upperRel.split("/").slice(1));
        const kept = sha256Of(at);
        const versions = [sha256Of(path.join(source, upperRel)), sha256Of(path.join(source, lowerRel))];
        expect(versions, `run ${run}: ${upperRel} holds one of the two versions`).toContain(kept);
        const relAtTarget = path.relative(target, at).split(path.sep).join("/");
        expect(manifest.get(relAtTarget), `run ${run}: the manifest records the bytes at ${relAtTarget}`).toBe(kept);
        const other = versions.find((v) => v !== kept)!;
        const quarantined = summary.collisions
          .filter((c) => c.relPath.toLowerCase() === upperRel.toLowerCase())
          .map((c) => sha256Of(c.quarantinedAt!));
        expect(quarantined, `run ${run}: the other version of ${upperRel} is quarantined`).toEqual([other]);
        expect(collided.has(upperRel.toLowerCase()), `run ${run}: ${upperRel} reported`).toBe(true);
      };
      for (let i = 0; i < pairs; i++) {
        check(`Dir/log-${i}.txt`, `dir/log-${i}.txt`);
        check(`Dir/sub/deep-${i}.txt`, `dir/SUB/deep-${i}.txt`);
      }
      check("Dir/Report.txt", "dir/report.txt");
      expect(readFileSync(path.join(target, top!, "only-lower.txt"), "utf8")).toBe("only in dir/");
      expect(summary.collisions, `run ${run}`).toHaveLength(2 * pairs + 1);
    }
  });
});

describe("a source given through a link", () => {
  it("is walked as the folder it leads to, and a re-run through the folder's own path is the same source (a no-op)", () => {
    const node = nodeFolder("OCTO1", 1_790_000_000);
    const link = path.join(dir("links"), "octo1-logs");
    symlinkSync(node, link, "dir");
    const target = dir("link-target");
    const first = copy(link, target, "--node", "OCTO1");
    expect(first.filesCopied).toBe(4);
    expect(sha256Of(path.join(target, "scheduledtasks_retention.txt"))).toBe(sha256Of(path.join(node, "scheduledtasks_retention.txt")));
    const again = copy(node, target, "--node", "OCTO1");
    expect(again.filesCopied).toBe(0);
    expect(again.collisions).toEqual([]);
  });
});

describe("another folder mounted where the first one was, with the same device and file number", () => {
  /** The source's stat as a remount shows it: the same path, device and file number, another birth time. */
  const bornAt = (born: number): FileOps => ({
    ...nodeFileOps,
    stat: async (p) => ({ ...(await nodeFileOps.stat(p)), birthtimeMs: born }),
  });

  it("is told apart by its birth time: its different file of the same name, size and time is a collision, its grown file never replaces the first's", async () => {
    const mount = dir("mnt-node");
    const target = dir("remount-target");
    const manifestPath = path.join(target, ".octoha", "manifest-copy.jsonl");
    writeFile(mount, "scheduledtasks_retention.txt", "OCTO1 ran retention\n", 1_790_000_000);
    writeFile(mount, "scheduledtasks_health.txt", "OCTO1 health\n", 1_790_000_000);
    await copyTree({ source: mount, target, sourceNode: "OCTO1", manifestPath, ops: bornAt(1_700_000_000_000) });
    // OCTO1 unmounted, OCTO2 mounted at the same path: other bytes, one the same size and time, one longer.
    writeFile(mount, "scheduledtasks_retention.txt", "OCTO2 ran retention\n", 1_790_000_000);
    writeFile(mount, "scheduledtasks_health.txt", "OCTO2 health, a longer log\n", 1_790_000_100);
    const second = await copyTree({ source: mount, target, sourceNode: "OCTO2", manifestPath, ops: bornAt(1_700_000_999_000) });
    expect(second.filesUpdated ?? 0).toBe(0);
    expect(second.collisions.map((c) => [c.relPath, c.winner]).sort()).toEqual([
      ["scheduledtasks_health.txt", "target"],
      ["scheduledtasks_retention.txt", "target"],
    ]);
    expect(readFileSync(path.join(target, "scheduledtasks_retention.txt"), "utf8")).toBe("OCTO1 ran retention\n");
    expect(readFileSync(path.join(target, "scheduledtasks_health.txt"), "utf8")).toBe("OCTO1 health\n");
    expect(readFileSync(path.join(target, ".octoha", "conflicts", "OCTO2", "scheduledtasks_health.txt"), "utf8")).toBe(
      "OCTO2 health, a longer log\n",
    );
    // OCTO1 mounted again: its own folder, its own grown log updated as before.
    writeFile(mount, "scheduledtasks_retention.txt", "OCTO1 ran retention\n", 1_790_000_000);
    writeFile(mount, "scheduledtasks_health.txt", "OCTO1 health, and more\n", 1_790_000_200);
    const back = await copyTree({ source: mount, target, sourceNode: "OCTO1", manifestPath, ops: bornAt(1_700_000_000_000) });
    expect(back).toMatchObject({ filesUpdated: 1, collisions: [] });
    expect(readFileSync(path.join(target, "scheduledtasks_health.txt"), "utf8")).toBe("OCTO1 health, and more\n");
  });
});
