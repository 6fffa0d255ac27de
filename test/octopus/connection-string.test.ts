import { describe, expect, it } from "vitest";
import { connectionStringProblem, connectionTarget } from "../../src/octopus/sql/connection-string.js";
import { connectionStringPasswords } from "../../src/shared/connection-string-settings.js";

const SECRET = "Zq9;Server=h,TOPSECRETTAIL";

describe("a connection string's settings", () => {
  it.each([
    [`Server=127.0.0.1,1433;Database=Octopus;User Id=octoha_reader;Password="${SECRET}"`],
    [`Server=127.0.0.1,1433;Database=Octopus;User Id=octoha_reader;Password={${SECRET}}`],
    [`Server=127.0.0.1,1433;Database=Octopus;User Id=octoha_reader;Password='${SECRET}'`],
  ])("a quoted or braced password holding ';' and 'Server=' is one value, never a setting: %s", (cs) => {
    expect(connectionStringProblem(cs, "CS")).toBeUndefined();
    expect(connectionStringPasswords(cs)).toEqual([SECRET]);
    expect(connectionTarget(cs)).toEqual({ server: "127.0.0.1,1433", database: "Octopus" });
  });

  it("a refusal of the server's port never quotes a piece of a quoted password", () => {
    const problem = connectionStringProblem(`Server=127.0.0.1,PORT;Database=Octopus;Password="${SECRET}"`, "CS");
    expect(problem?.summary).toBe('CS has Server=127.0.0.1,PORT: the port after the comma must be a number from 1 to 65535, not "PORT"');
    expect(JSON.stringify(problem)).not.toContain("TOPSECRET");
  });

  it("a doubled quote inside a quoted value is the quote itself", () => {
    expect(connectionStringPasswords(`Server=x;Password="a""b;c";Database=d`)).toEqual(['a"b;c']);
  });

  it.each([
    ["Server=127.0.0.1:1433;Database=Octopus", "Server=127.0.0.1,1433"],
    ["Data Source=tcp:sql01:1433;Initial Catalog=Octopus", "Data Source=sql01,1433"],
  ])("HOST:PORT is refused, naming the comma form: %s", (cs, form) => {
    expect(connectionStringProblem(cs, "CS")?.summary).toContain(`a port goes after a comma (${form}), not a colon`);
  });

  it.each(["Server=::1;Database=Octopus", "Server=tcp:sql01,1433;Database=Octopus", "Server=sql01\\OCTOPUS;Database=Octopus"])(
    "an IPv6 address, a protocol prefix or a named instance is not taken for HOST:PORT: %s",
    (cs) => {
      expect(connectionStringProblem(cs, "CS")).toBeUndefined();
    },
  );
});
