import { describe, expect, it } from "vitest";
import { Redactor } from "../../src/shared/redact.js";

describe("redaction", () => {
  it("hides a registered secret wherever it appears", () => {
    const r = new Redactor();
    r.add("s3cr3t-value");
    expect(r.redact("token s3cr3t-value in text s3cr3t-value")).toBe("token *** in text ***");
  });

  it("hides Octopus API keys it was never told about", () => {
    const r = new Redactor();
    expect(r.redact("X API-ABCDEFGHIJKLMNOPQRSTUVWX1 Y")).toBe("X *** Y");
  });

  it("hides the password of a SQL connection string but keeps the rest readable", () => {
    const r = new Redactor();
    const out = r.redact("Server=sql01;Database=Octopus;User Id=octo;Password=Hunter2!x;Encrypt=true");
    expect(out).toBe("Server=sql01;Database=Octopus;User Id=octo;Password=***;Encrypt=true");
    expect(r.redact('"Data Source=x;pwd={a;b}"')).toBe('"Data Source=x;pwd=***"');
  });

  it("redacts every string inside a journal record without breaking its shape", () => {
    const r = new Redactor();
    const rec = { cs: 'Server=x;Password=abc"def', nested: [{ key: "API-ABCDEFGHIJKLMNOPQRST" }], n: 3 };
    const out = r.redactValue(rec);
    expect(JSON.stringify(out)).not.toContain("abc");
    expect(JSON.stringify(out)).not.toContain("API-ABCDEFGHIJKLMNOPQRST");
    expect(out.n).toBe(3);
  });
});
