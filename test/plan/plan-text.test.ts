/**
 * What the plan file's bytes and JSON structure may not hold, through the real CLI: each refusal
 * exits 2, names where (line:column and the JSON path), lists every problem at once, and writes nothing.
 */
import { readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { cleanEnv, runCli, withTempDir } from "../helpers/cli.js";
import { windowsPlan, type Loose } from "./fixtures.js";
import { errorOf } from "../helpers/envelope.js";

const env = cleanEnv({
  OCTOPUS_API_KEY: "API-TESTKEY0000000000000000",
  OCTOHA_SQL_CONNECTION_STRING: "Server=sql01;Database=Octopus;Integrated Security=true",
});

/** The fixture plan, pretty-printed as an operator's editor would save it. */
const planText = (edit?: (p: Loose) => void): string => {
  const plan = windowsPlan() as Loose;
  edit?.(plan);
  return JSON.stringify(plan, null, 2);
};

/** 1-based line and column of the first `needle` in `text`. */
function where(text: string, needle: string): { line: number; column: number } {
  const at = text.indexOf(needle);
  const before = text.slice(0, at);
  return { line: before.split("\n").length, column: at - before.lastIndexOf("\n") };
}

async function check(dir: string, bytes: Buffer | string, verb: "check" | "dry-run" = "check", extra: string[] = []) {
  const file = path.join(dir, "plan.json");
  await writeFile(file, bytes);
  const result = await runCli([verb, file, ...(verb === "check" ? ["--no-preflight"] : []), ...extra], { cwd: dir, env });
  expect(await readdir(dir), "nothing but the plan may be written").toEqual(["plan.json"]);
  return result;
}

describe("plan file text: refused with exit 2, naming line:column and the JSON path", () => {
  it("a byte that is not UTF-8 (a Windows-1252 é) is refused, not read as U+FFFD into a folder name", async () =>
    withTempDir(async (dir) => {
      const text = planText((p) => (p.nodes[0].folders.artifacts.octopus = "C:\\Octopus\\ArtXfacts"));
      const bytes = Buffer.from(text);
      bytes[bytes.indexOf("ArtXfacts") + 3] = 0xe9;
      const r = await check(dir, bytes, "dry-run");
      expect(r.code, r.stderr).toBe(2);
      const at = where(text, "ArtXfacts");
      expect(r.stderr).toContain(
        `nodes[0].folders.artifacts.octopus (line ${at.line}, column ${at.column + 3}): byte 0xE9 is not valid UTF-8`,
      );
      expect(r.stdout).not.toContain("Art\uFFFDfacts");
    }));

  it("a duplicate key is refused naming both places (JSON.parse would keep only the last)", async () =>
    withTempDir(async (dir) => {
      const text = planText().replace('"platform": "windows"', '"platform": "linux",\n    "platform": "windows"');
      const r = await check(dir, text);
      expect(r.code).toBe(2);
      const first = where(text, '"platform": "linux"');
      const second = where(text, '"platform": "windows"');
      expect(r.stderr).toContain(
        `octopus.platform (line ${second.line}, column ${second.column}): duplicate key "platform" (first at line ${first.line}, column ${first.column})`,
      );
    }));

  it("a NUL character, raw or escaped, is refused where it is", async () =>
    withTempDir(async (dir) => {
      const escaped = planText((p) => (p.nodes[1].name = "OC\u0000TO2"));
      const r = await check(dir, escaped);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/nodes\[1\]\.name \(line \d+, column \d+\): a NUL character/);
      const raw = planText().replace("OctopusShared\\\\Packages", "Octopus\u0000Shared\\\\Packages");
      const r2 = await check(dir, raw);
      expect(r2.code).toBe(2);
      const at = where(raw, "\u0000");
      expect(r2.stderr).toContain(`shared.packages.octopus (line ${at.line}, column ${at.column}): a NUL character`);
    }));

  it("a file saved as UTF-16 (PowerShell's >) is refused with how to save it as UTF-8", async () =>
    withTempDir(async (dir) => {
      const r = await check(dir, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(planText(), "utf16le")]));
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("(line 1, column 1): the file is UTF-16");
      expect(r.stderr).toContain("Set-Content -Encoding utf8");
    }));

  it("nesting 100 000 levels deep is refused at the depth limit (exit 2), not a stack overflow", async () =>
    withTempDir(async (dir) => {
      const r = await check(dir, `{"version": 1, "nodes": ${"[".repeat(100_000)}${"]".repeat(100_000)}}`);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).not.toContain("internal error");
      expect(r.stderr).toMatch(/ nodes\[0\]\[0\]\[0\]\[0\]…\[0\]\[0\]\[0\]\[0\]\[0\] \(line 1, column 88\): nested deeper than 64 levels/);
    }));

  it("a 5 MB value is named and cut when echoed, in text and in --json", async () =>
    withTempDir(async (dir) => {
      const text = planText((p) => (p.nodes[0].url = "A".repeat(5_000_000)));
      const r = await check(dir, text);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("nodes[0].url:");
      expect(r.stderr).toContain("(5000000 characters)");
      expect(r.stderr.length).toBeLessThan(2_000);
      const json = await check(dir, text, "check", ["--json"]);
      expect(json.code).toBe(2);
      expect(json.stdout.length).toBeLessThan(4_000);
      expect(errorOf(json.stdout, "check", 2)).toMatchObject({
        code: "PLAN_INVALID",
        details: [{ path: "nodes[0].url", value: expect.stringContaining("(5000000 characters)") }],
      });
    }));

  it("a syntax error names its line and column, without quoting the text around it", async () =>
    withTempDir(async (dir) => {
      const text = planText().replace('"version": 1,', '"version": 1').replace('"OCTO1"', "OCTO1");
      const r = await check(dir, text);
      expect(r.code).toBe(2);
      const at = where(text, '"octopus": {');
      expect(r.stderr).toContain(`is not valid JSON`);
      expect(r.stderr).toContain(
        `version (line ${at.line}, column ${at.column}): expected "," or "}" after the value of "version", found '"'`,
      );
    }));

  it("lists every problem at once: encoding, duplicate key and schema", async () =>
    withTempDir(async (dir) => {
      const text = planText((p) => {
        p.nodes[0].folders.artifacts.octopus = "C:\\Octopus\\ArtXfacts";
        p.nodes[1].url = "ftp://octo2";
      }).replace('"version": 1,', '"version": 1,\n  "version": 1,');
      const bytes = Buffer.from(text);
      bytes[bytes.indexOf("ArtXfacts") + 3] = 0xe9;
      const r = await check(dir, bytes);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/has 3 problems/);
      for (const p of ["nodes[0].folders.artifacts.octopus (line", "version (line 3, column 3): duplicate key", "nodes[1].url:"])
        expect(r.stderr).toContain(p);
    }));
});
