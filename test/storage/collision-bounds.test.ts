import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { copyTree } from "../../src/storage/index.js";
import { COLLISION_LIMIT } from "../../src/storage/tactics.js";
import type { Collision } from "../../src/model/copy-results.js";
import { tempDirs } from "./helpers.js";

const dir = tempDirs();

/** n task logs under the same names in source and target, other bytes: n different-bytes collisions. */
function colliding(n: number): { source: string; target: string } {
  const source = dir("source");
  const target = dir("target");
  mkdirSync(path.join(source, "TaskLogs"));
  mkdirSync(path.join(target, "TaskLogs"));
  for (let i = 0; i < n; i++) {
    writeFileSync(path.join(source, "TaskLogs", `servertasks-${i}_A.txt`), `source ${i}\n`);
    writeFileSync(path.join(target, "TaskLogs", `servertasks-${i}_A.txt`), `target ${i}, longer\n`);
  }
  return { source, target };
}

describe("a copy with more collisions than a summary lists", () => {
  it("lists the first ones, counts every one by kind, and hands every one to onCollision", async () => {
    const n = COLLISION_LIMIT + 50;
    const { source, target } = colliding(n);
    const seen: Collision[] = [];
    const summary = await copyTree({ source, target, sourceNode: "OCTO2", dryRun: true, onCollision: (c) => seen.push(c) });
    expect(summary.collisions).toHaveLength(COLLISION_LIMIT);
    expect(summary.collisionsOmitted).toBe(50);
    expect(summary.collisionsByKind).toEqual({ "different-bytes": n });
    expect(new Set(seen.map((c) => c.relPath)).size).toBe(n);
    expect(summary.collisions).toEqual(seen.slice(0, COLLISION_LIMIT));
  });

  it("says nothing is omitted when every collision is listed", async () => {
    const { source, target } = colliding(3);
    const summary = await copyTree({ source, target, sourceNode: "OCTO2", dryRun: true });
    expect(summary.collisions).toHaveLength(3);
    expect(summary.collisionsOmitted).toBeUndefined();
    expect(summary.collisionsByKind).toEqual({ "different-bytes": 3 });
  });
});
