/** The plan's JSON Schema, generated from the zod schema (`octoha schema`, plans/octoha.schema.json). */
import { z } from "zod";
import { Plan } from "./schema.js";

/** Input shape: fields with defaults are optional, as an operator writes them. */
export function planJsonSchema(): Record<string, unknown> {
  cached ??= {
    ...(z.toJSONSchema(Plan, { io: "input", unrepresentable: "any" }) as Record<string, unknown>),
    title: "octoha plan",
    description:
      "An octoha plan: which Octopus cluster, which nodes and folders, and where shared storage is. Secrets are env references only.",
  };
  return structuredClone(cached);
}

let cached: Record<string, unknown> | undefined;

export function planJsonSchemaText(): string {
  return `${JSON.stringify(planJsonSchema(), null, 2)}\n`;
}
