// The layering lint (eslint.config.js) fires on a back edge and stays quiet on a legal import.
// Linted from memory with the project's own config: nothing is written under src/.
import { ESLint } from "eslint";
import { describe, expect, it } from "vitest";

const eslint = new ESLint({ cwd: process.cwd() });

async function errorsFor(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).filter((m) => m.severity === 2).map((m) => `${m.ruleId ?? ""}: ${m.message}`);
}

describe("layering lint", () => {
  it("rejects src/model importing src/runner", async () => {
    const errors = await errorsFor("src/model/fixture.ts", 'import type { Step } from "../runner/step.js";\nexport type S = Step;\n');
    expect(errors).toEqual([expect.stringMatching(/^no-restricted-imports: .*src\/model may import only src\/shared/)]);
  });

  it("rejects a back edge from a nested folder (src/octopus/rest → src/plan)", async () => {
    const errors = await errorsFor(
      "src/octopus/rest/fixture.ts",
      'import type { Plan } from "../../plan/schema.js";\nexport type P = Plan;\n',
    );
    expect(errors).toEqual([expect.stringMatching(/^no-restricted-imports: .*src\/octopus may import only/)]);
  });

  it("rejects src/runner importing src/steps and src/report", async () => {
    const code = 'import "../steps/copy.js";\nimport "../report/run-view.js";\n';
    expect(await errorsFor("src/runner/fixture.ts", code)).toHaveLength(2);
  });

  it("rejects the old back edges: src/runner → src/plan, src/report → src/runner and src/storage", async () => {
    const runner = await errorsFor("src/runner/fixture.ts", 'import type { Plan } from "../plan/schema.js";\nexport type P = Plan;\n');
    expect(runner).toEqual([expect.stringMatching(/^no-restricted-imports: .*src\/runner may import only src\/model, src\/shared /)]);
    const code = 'import "../runner/status.js";\nimport "../storage/types.js";\nimport "../model/run.js";\n';
    expect(await errorsFor("src/report/fixture.ts", code)).toHaveLength(2);
    // join is a layer too: nothing below it may reach it.
    expect(await errorsFor("src/plan/fixture.ts", 'import "../join/index.js";\n')).toHaveLength(1);
  });

  it("allows imports down the layers and inside a folder", async () => {
    expect(await errorsFor("src/cli/fixture.ts", 'import "../operations/run.js";\nimport "../steps/copy.js";\n')).toEqual([]);
    expect(
      await errorsFor("src/plan/fixture.ts", 'import "../model/preview.js";\nimport "../octopus/sql/connection-string.js";\n'),
    ).toEqual([]);
    // src/octopus/cli is a subfolder of octopus, not the cli layer.
    expect(await errorsFor("src/octopus/rest/fixture.ts", 'import "../cli/index.js";\nimport "../../model/folders.js";\n')).toEqual([]);
  });

  it("rejects an explicit any", async () => {
    const errors = await errorsFor("src/shared/fixture.ts", "export const x = (v: any): unknown => v;\n");
    expect(errors).toEqual([expect.stringMatching(/^@typescript-eslint\/no-explicit-any/)]);
  });
});
