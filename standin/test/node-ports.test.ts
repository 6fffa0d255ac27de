/** Node port claims: a port a live stand-in holds (in this process or another) is not handed out again. */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import { NodePortClaims } from "../src/node-ports.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "octoha-node-ports-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

it("a port claimed by one stand-in is refused to another in the same process until it is let go", () => {
  const first = new NodePortClaims(dir);
  const second = new NodePortClaims(dir);
  expect(first.claim(20001)).toBe(true);
  expect(second.claim(20001)).toBe(false);
  expect(second.claim(20002)).toBe(true);
  first.releaseAll();
  expect(second.claim(20001)).toBe(true);
  second.releaseAll();
  expect(readdirSync(dir)).toEqual([]);
});

it("a claim of another live process holds; one whose process is gone is taken over", () => {
  writeFileSync(path.join(dir, "20003"), `${process.ppid}\n`);
  const dead = spawnSync(process.execPath, ["-e", ""]).pid!;
  writeFileSync(path.join(dir, "20004"), `${dead}\n`);
  const claims = new NodePortClaims(dir);
  expect(claims.claim(20003)).toBe(false);
  expect(claims.claim(20004)).toBe(true);
  claims.release(20004);
  claims.release(20003);
  expect(readdirSync(dir)).toEqual(["20003"]);
});
