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
    expect(r.redact("the key was API-ABCDEFGHIJKLMNOPQRSTUVWXYZ.")).toBe("the key was ***.");
    expect(r.redact("X-Octopus-ApiKey: API-ABCDEFGHIJKLMNOPQRSTUVWXYZ, next")).not.toContain("ABCDEFGHIJ");
  });

  it("hides the password of a SQL connection string but keeps the rest readable", () => {
    const r = new Redactor();
    const out = r.redact("Server=sql01;Database=Octopus;User Id=octo;Password=Hunter2!x;Encrypt=true");
    expect(out).toBe("Server=sql01;Database=Octopus;User Id=octo;Password=***;Encrypt=true");
    expect(r.redact('"Data Source=x;pwd={a;b}"')).toBe('"Data Source=x;pwd=***"');
    // The password as the first setting, and after a setting and a space.
    expect(r.redact("Password=Hunter2!x;Server=sql01")).toBe("Password=***;Server=sql01");
    expect(r.redact("login with 'pwd=s3cr3t;Data Source=x'")).toBe("login with 'pwd=***;Data Source=x'");
    expect(r.redact("Server=sql01; Password = two words;Encrypt=true")).toBe("Server=sql01; Password = ***;Encrypt=true");
  });

  it("names a file whose name looks like a key or a password setting: file names are not secrets", () => {
    const r = new Redactor();
    const names = [
      "API-PAYMENTSPROCESSOR.2.3.1.zip",
      "API-ORDERSERVICEBACKEND2024.1.0.0.nupkg",
      "API-ORDERSERVICEBACKEND-2024.zip",
      "Password=x.txt",
      "pwd=notes.txt",
    ];
    for (const name of names) {
      const line = `collision (different-bytes) ${name} vs ${name}: kept the target's copy; the same name with different bytes; other copy at /t/.octoha/conflicts/N1/${name}`;
      expect(r.redact(line)).toBe(line);
      const collision = { relPath: name, quarantinedAt: `C:\\t\\.octoha\\conflicts\\N1\\${name}` };
      expect(r.redactValue(collision)).toEqual(collision);
    }
  });

  it("a registered secret stays hidden inside a file name", () => {
    const r = new Redactor();
    r.add("Hunter2!x");
    r.add("API-PAYMENTSPROCESSOR");
    expect(r.redact("copied Password=Hunter2!x.txt and API-PAYMENTSPROCESSOR.2.3.1.zip")).toBe("copied Password=***.txt and ***.2.3.1.zip");
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
