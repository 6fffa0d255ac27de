/**
 * `octoha copy` must start fast (a pre-seed is run again and again): its static import graph must not
 * reach the workflow stack. A flag parser once pulled operations/, steps/ and the plan schema in
 * through run-options.ts: +0.2 s of CPU and +15 MB for every copy.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { expect, it } from "vitest";

const SRC = path.resolve(import.meta.dirname, "../../src");

function staticImports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const found = [...text.matchAll(/^import\s+(?!type\b)[^;]*?from\s+"(\.[^"]+)";/gms)].map((m) => m[1]!);
  return found.map((spec) => path.resolve(path.dirname(file), spec.replace(/\.js$/, ".ts")));
}

function graph(entry: string): Set<string> {
  const seen = new Set<string>();
  const todo = [entry];
  while (todo.length > 0) {
    const file = todo.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    todo.push(...staticImports(file));
  }
  return seen;
}

it("the copy verb's static imports reach no workflow module (operations, steps, runner, plan, octopus)", () => {
  const reached = [...graph(path.join(SRC, "cli/commands/copy.ts"))].map((f) => path.relative(SRC, f));
  expect(reached).toContain("storage/index.ts");
  expect(reached.filter((f) => /^(operations|steps|runner|plan|octopus)\//.test(f))).toEqual([]);
});
