// Lint for what tsc does not check: the direction of imports between the folders of src/, `any`,
// and a line limit. Dependencies point down only:
//   cli → demo → operations → steps → runner / report / tentacles / lb / join / plan / octopus / storage → model → shared
// runner, report, octopus and storage reach only model and shared; tentacles, lb and join read plans (→ plan); plan → octopus.
import tseslint from "typescript-eslint";

const LAYERS = [
  "cli",
  "operations",
  "steps",
  "report",
  "tentacles",
  "lb",
  "join",
  "runner",
  "plan",
  "octopus",
  "storage",
  "model",
  "shared",
  "demo",
];

/** The folders each folder of src/ may import (besides itself). Anything else is a back edge. */
const MAY_IMPORT = {
  shared: [],
  model: ["shared"],
  storage: ["model", "shared"],
  octopus: ["model", "shared"],
  plan: ["octopus", "model", "shared"],
  // The runner knows steps and journals, nothing of plans or Octopus: what it tells a view is in model.
  runner: ["model", "shared"],
  tentacles: ["plan", "model", "shared"],
  // Load balancer configurations from a plan: text generation only, reaches nothing.
  lb: ["plan", "model", "shared"],
  // Adding a node: the commands to run on it, and the read-only checks (REST) before them.
  join: ["plan", "octopus", "model", "shared"],
  // Reports render what model describes (a run's notices, a preview, a copy's summary).
  report: ["model", "shared"],
  steps: ["report", "tentacles", "lb", "join", "runner", "plan", "octopus", "storage", "model", "shared"],
  operations: ["steps", "report", "tentacles", "lb", "join", "runner", "plan", "octopus", "storage", "model", "shared"],
  // The demo drives the stand-in package and whole operations (a dry-run, a repair), as a verb does.
  demo: ["operations", "steps", "report", "tentacles", "lb", "join", "runner", "plan", "octopus", "storage", "model", "shared"],
  cli: ["operations", "demo", "steps", "report", "tentacles", "lb", "join", "runner", "plan", "octopus", "storage", "model", "shared"],
};

/**
 * Imports are relative, so what "../x/" names depends on how deep the importing file sits: one
 * config block per layer and depth, each forbidding "<up to src>/<forbidden folder>/".
 */
function layerBlocks(extraAllowed = {}) {
  return Object.entries(MAY_IMPORT).flatMap(([layer, allowed]) => {
    const forbidden = LAYERS.filter((l) => l !== layer && !allowed.includes(l) && !(extraAllowed[layer] ?? []).includes(l));
    return [1, 2, 3].map((depth) => ({
      files: [`src/${layer}/${"*/".repeat(depth - 1)}*.ts`],
      rules: {
        "no-restricted-imports": [
          "error",
          {
            patterns: [
              {
                regex: `^(\\.\\./){${depth}}(${forbidden.join("|")})/`,
                message: `src/${layer} may import only ${[...allowed, ...(extraAllowed[layer] ?? [])].map((l) => `src/${l}`).join(", ") || "itself"} (layering: see eslint.config.js).`,
              },
            ],
          },
        ],
      },
    }));
  });
}

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "standin/**", "test/**", "bench/**", "plans/**"] },
  {
    files: ["src/**/*.ts"],
    languageOptions: { parser: tseslint.parser },
    plugins: { "@typescript-eslint": tseslint.plugin },
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "max-len": ["error", { code: 160, ignoreUrls: true, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true }],
    },
  },
  ...layerBlocks(),
);
