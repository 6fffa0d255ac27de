import { describe, expect, it } from "vitest";
import { Plan } from "../../src/plan/schema.js";
import { resolveSecrets } from "../../src/plan/secrets.js";
import { Redactor } from "../../src/shared/redact.js";
import { windowsPlan, type Loose } from "./fixtures.js";

const plan = (edit: (p: Loose) => void = () => {}): Plan => {
  const p = windowsPlan() as Loose;
  edit(p);
  return Plan.parse(p);
};

describe("resolveSecrets", () => {
  it("reads both references and registers their values so every later output hides them", () => {
    const redactor = new Redactor();
    const s = resolveSecrets(
      plan(),
      { OCTOPUS_API_KEY: "API-KEY123456789", OCTOHA_SQL_CONNECTION_STRING: "Server=db;Integrated Security=true" },
      redactor,
    );
    expect(s.missing).toEqual([]);
    expect(s.apiKey).toBe("API-KEY123456789");
    expect(redactor.redact("key API-KEY123456789 cs Server=db;Integrated Security=true")).toBe("key *** cs ***");
  });

  it("registers a connection string's password on its own: a message quoting only it hides it too", () => {
    const redactor = new Redactor();
    resolveSecrets(
      plan(),
      { OCTOPUS_API_KEY: "API-KEY123456789", OCTOHA_SQL_CONNECTION_STRING: "Server=db;User Id=octoha;Password={Hunter2;xyz}" },
      redactor,
    );
    expect(redactor.redact("the password Hunter2;xyz was refused")).toBe("the password *** was refused");
    resolveSecrets(plan(), { OCTOPUS_API_KEY: "API-KEY123456789", OCTOHA_SQL_CONNECTION_STRING: "Server=db;Pwd=s3cr3tpw" }, redactor);
    expect(redactor.redact("the password s3cr3tpw")).toBe("the password ***");
  });

  it("falls back to OCTOPUS_API_KEY when the plan's own variable is unset", () => {
    const s = resolveSecrets(
      plan((p) => (p.octopus.apiKey = { env: "PROD_OCTO_KEY" })),
      { OCTOPUS_API_KEY: "API-FALLBACK0000", OCTOHA_SQL_CONNECTION_STRING: "x=y" },
      new Redactor(),
    );
    expect(s.apiKey).toBe("API-FALLBACK0000");
    expect(s.sources.apiKey).toBe("OCTOPUS_API_KEY");
  });

  it("prefers the plan's variable over OCTOPUS_API_KEY", () => {
    const s = resolveSecrets(
      plan((p) => (p.octopus.apiKey = { env: "PROD_OCTO_KEY" })),
      { PROD_OCTO_KEY: "API-PROD00000000", OCTOPUS_API_KEY: "API-OTHER0000000" },
      new Redactor(),
    );
    expect(s.apiKey).toBe("API-PROD00000000");
  });

  it("reports every unset (or blank) variable at once, by name", () => {
    const s = resolveSecrets(
      plan((p) => (p.octopus.apiKey = { env: "PROD_OCTO_KEY" })),
      { OCTOHA_SQL_CONNECTION_STRING: "  " },
      new Redactor(),
    );
    expect(s.missing).toEqual([
      { path: "octopus.apiKey", variables: ["PROD_OCTO_KEY", "OCTOPUS_API_KEY"] },
      { path: "octopus.sql.connectionString", variables: ["OCTOHA_SQL_CONNECTION_STRING"] },
    ]);
  });

  it("keeps the plan's server URL when OCTOPUS_URL points elsewhere, and says so", () => {
    const s = resolveSecrets(plan(), { OCTOPUS_URL: "https://test-octopus.example.com" }, new Redactor());
    expect(s.serverUrl).toBe("https://octopus.example.com");
    expect(s.notes.join()).toContain("uses the plan's");
    expect(resolveSecrets(plan(), { OCTOPUS_URL: "https://OCTOPUS.example.com/" }, new Redactor()).notes).toEqual([]);
  });
});
