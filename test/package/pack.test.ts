/**
 * What `npm pack` of octoha ships: octoha, never the stand-in (its own package, standin/), and no
 * static import of it anywhere, so every verb but `demo` and `standin` starts without loading it.
 * Runs against the dist built by pretest.
 */
import { execFile } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { REPO } from "../helpers/cli.js";

interface PackResult {
  name: string;
  files: { path: string }[];
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .map((name) => path.join(dir, name))
    .filter((file) => statSync(file).isFile());
}

/** The stand-in's own module names (cluster, sql-engine, tds/wire, …), as they would appear in a dist. */
function standinModules(): string[] {
  const src = path.join(REPO, "standin", "src");
  return filesUnder(src).map((f) => path.relative(src, f).replace(/\\/g, "/").replace(/\.ts$/, ""));
}

describe("npm pack of octoha", () => {
  it("lists no stand-in code: nothing under standin/ or tds/, no sql-engine, no octopus-server bin, no copy of any stand-in module", async () => {
    const { stdout } = await promisify(execFile)("npm", ["pack", "--dry-run", "--json"], { cwd: REPO, timeout: 60_000 });
    const [pack] = JSON.parse(stdout) as PackResult[];
    const files = pack!.files.map((f) => f.path);
    expect(pack!.name).toBe("octoha");
    expect(files).toContain("dist/cli/main.js");
    expect(files).toContain("dist/cli/octoha.cjs");
    expect(files.filter((f) => /(^|\/)(standin|tds)\/|sql-engine|octopus-server|tsql-rewrite|fakes/.test(f))).toEqual([]);
    const modules = standinModules().filter((m) => m !== "index");
    expect(modules).toEqual(expect.arrayContaining(["cluster", "sql-engine", "tds/server", "octopus-server-bin"]));
    const shipped = new Set(files.map((f) => f.replace(/^dist\//, "").replace(/\.js(\.map)?$|\.d\.ts$/, "")));
    expect(modules.filter((m) => shipped.has(m))).toEqual([]);
    // The only files named for the stand-in: the `standin` verb and the lazy loader.
    const named = new Set(files.filter((f) => f.includes("standin")).map((f) => f.replace(/\.map$/, "")));
    expect(named).toEqual(new Set(["dist/cli/commands/standin.js", "dist/cli/load-standin.js"]));
  });

  it("declares neither the stand-in's bin nor its sql.js dependency", () => {
    const pkg = JSON.parse(readFileSync(path.join(REPO, "package.json"), "utf8")) as {
      bin: Record<string, string>;
      dependencies: Record<string, string>;
    };
    expect(pkg.bin).toEqual({ octoha: "dist/cli/octoha.cjs" });
    expect(Object.keys(pkg.dependencies)).not.toContain("sql.js");
  });

  it("imports the stand-in only in src/cli/load-standin.ts, by a dynamic import(); elsewhere in src only its types", () => {
    const src = path.join(REPO, "src");
    const runtime: string[] = [];
    for (const file of filesUnder(src).filter((f) => f.endsWith(".ts"))) {
      const rel = path.relative(REPO, file).replace(/\\/g, "/");
      for (const line of readFileSync(file, "utf8").split("\n")) {
        if (!/\bfrom\s+"@octoha\/standin[/"]|import\("@octoha\/standin[/"]/.test(line)) continue;
        const typeOnly =
          /^\s*import type\b/.test(line) || /^\s*export type\b/.test(line) || /typeof import\("@octoha\/standin"\)/.test(line);
        if (!typeOnly) runtime.push(`${rel}: ${line.trim()}`);
      }
    }
    expect(runtime).toEqual(['src/cli/load-standin.ts: return await import("@octoha/standin");']);
    const dist = path.join(REPO, "dist");
    const mentions = filesUnder(dist).filter((f) => f.endsWith(".js") && readFileSync(f, "utf8").includes("@octoha/standin"));
    expect(mentions.map((f) => path.relative(REPO, f).replace(/\\/g, "/"))).toEqual(["dist/cli/load-standin.js"]);
  });
});
