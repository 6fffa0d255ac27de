/**
 * The stand-in is its own package that the octoha npm package does not carry. An install without it
 * still runs every other verb, and `demo` / `standin` say how to get it (exit 2) and write nothing.
 * The install is simulated: octoha's built dist and package.json in a temp folder whose node_modules
 * links every dependency of the repository except @octoha/standin.
 */
import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO, cleanEnv, type CliResult } from "../helpers/cli.js";
import { errorOf } from "../helpers/envelope.js";

let home: string;

beforeAll(() => {
  home = mkdtempSync(path.join(os.tmpdir(), "octoha-no-standin-"));
  cpSync(path.join(REPO, "dist"), path.join(home, "dist"), { recursive: true });
  cpSync(path.join(REPO, "package.json"), path.join(home, "package.json"));
  mkdirSync(path.join(home, "node_modules"));
  for (const entry of readdirSync(path.join(REPO, "node_modules"))) {
    if (entry === "@octoha" || entry.startsWith(".")) continue;
    symlinkSync(path.join(REPO, "node_modules", entry), path.join(home, "node_modules", entry));
  }
});
afterAll(() => rmSync(home, { recursive: true, force: true }));

function octoha(args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(home, "dist/cli/main.js"), ...args],
      { cwd: home, env: cleanEnv(), timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof (error as { code?: unknown }).code === "number" ? (error as { code: number }).code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe("octoha installed without the stand-in package", () => {
  it("is really without it: the package cannot be resolved from the install", () => {
    expect(existsSync(path.join(home, "node_modules", "@octoha"))).toBe(false);
    expect(existsSync(path.join(home, "dist", "standin"))).toBe(false);
  });

  it("lists every verb and runs one that does not need the stand-in", async () => {
    const help = await octoha(["--help"]);
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toContain("demo");
    expect(help.stdout).toContain("standin");
    const schema = await octoha(["schema"]);
    expect(schema.code, schema.stderr).toBe(0);
    expect(() => JSON.parse(schema.stdout) as unknown).not.toThrow();
  });

  it("`standin` exits 2, says the stand-in is not installed and how to get it, and creates no data folder", async () => {
    const data = path.join(home, "standin-data");
    const r = await octoha(["standin", "--data", data]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("octoha: the Octopus stand-in is not installed (package @octoha/standin not found)");
    expect(r.stderr).toContain("It is the workspace standin/ of the octoha repository");
    expect(r.stderr).toContain("`npm install`");
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(data)).toBe(false);
  });

  it("`demo` exits 2 with the same message before it touches --dir; with --json the error is one JSON line", async () => {
    const dir = path.join(home, "demo");
    const r = await octoha(["demo", "--dir", dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("the Octopus stand-in is not installed");
    expect(r.stderr).toContain("`npm run build`");
    expect(existsSync(dir)).toBe(false);
    const j = await octoha(["demo", "--dir", dir, "--json"]);
    expect(j.code).toBe(2);
    expect(errorOf(j.stdout, "demo", 2)).toMatchObject({ code: "STANDIN_NOT_INSTALLED" });
  });

  it("a stand-in package that was never built: exit 2, says it cannot be loaded and to build it", async () => {
    const pkg = path.join(home, "node_modules", "@octoha", "standin");
    mkdirSync(pkg, { recursive: true });
    cpSync(path.join(REPO, "standin", "package.json"), path.join(pkg, "package.json"));
    try {
      const r = await octoha(["standin", "--data", path.join(home, "unbuilt"), "--json"]);
      expect(r.code).toBe(2);
      expect(errorOf(r.stdout, "standin", 2)).toMatchObject({ code: "STANDIN_NOT_LOADABLE" });
      expect(r.stderr).toContain("the Octopus stand-in is installed but cannot be loaded");
      expect(r.stderr).toContain("run `npm install` and `npm run build` in the octoha clone");
    } finally {
      rmSync(path.join(home, "node_modules", "@octoha"), { recursive: true, force: true });
    }
  });
});
