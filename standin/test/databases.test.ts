/** How a node's connection string is read and which served database it reaches (SqlClient's rules, the keys the stand-in reads). */
import { describe, expect, it } from "vitest";
import { describeConnectionString, openConnectionString, parseConnectionString, type ServedDatabase } from "../src/databases.js";
import { madeUpPassword, withSecret } from "../src/testing/made-up.js";

// Made-up logins of the stand-in's test databases, drawn in each run. The first holds a ';' and a
// quote, so a connection string must quote it.
const FAKE_QUOTED_PASSWORD = madeUpPassword("fake", ";it's");
const FAKE_PASSWORD = madeUpPassword("fake");
const FAKE_WRONG_PASSWORD = madeUpPassword("wrong");
const WORD = madeUpPassword("word");
// The databases' master key (an Octopus master key is a secret too): drawn like the logins.
const MASTER_KEY = madeUpPassword("master-key");

const served: ServedDatabase[] = [
  {
    name: "Octopus",
    catalog: "Octopus",
    host: "127.0.0.1",
    port: 50001,
    user: "octoha_reader",
    password: FAKE_QUOTED_PASSWORD,
    connectionString: "",
    masterKey: MASTER_KEY,
    databaseHa: "standalone",
  },
  {
    name: "OctopusHA",
    catalog: "OctopusHA",
    host: "127.0.0.1",
    port: 50002,
    user: "octoha_reader",
    password: FAKE_PASSWORD,
    connectionString: "",
    masterKey: MASTER_KEY,
    databaseHa: "availability-group",
  },
];

describe("connection strings", () => {
  it("reads synonyms, case and quoted values as SqlClient does", () => {
    const parsed = parseConnectionString(
      `${withSecret("data source = tcp:LocalHost,50001; Initial Catalog=octopus;UID=octoha_reader", "PWD", FAKE_QUOTED_PASSWORD, '"')};Encrypt=True`,
    );
    expect(Object.fromEntries(parsed!)).toEqual({
      server: "tcp:LocalHost,50001",
      database: "octopus",
      user: "octoha_reader",
      password: FAKE_QUOTED_PASSWORD,
    });
    expect(parseConnectionString(withSecret("Server=x", "Password", `${WORD}''s`, "'"))!.get("password")).toBe(`${WORD}'s`);
    expect(parseConnectionString(withSecret("Server=x", "Password", `'${WORD}`))).toBeUndefined();
    expect(parseConnectionString("just words")).toBeUndefined();
  });

  it("reaches the database by listener, login and catalog, and says which of them failed", () => {
    const open = (cs: string) => {
      const r = openConnectionString(served, cs);
      return "failure" in r ? r.failure : r.database.name;
    };
    expect(
      open(withSecret("Data Source=localhost,50001;Initial Catalog=OCTOPUS;User ID=octoha_reader", "Password", FAKE_QUOTED_PASSWORD, '"')),
    ).toBe("Octopus");
    expect(
      open(
        `${withSecret("Server=127.0.0.1,50002;Database=OctopusHA;User Id=octoha_reader", "Password", FAKE_PASSWORD)};MultiSubnetFailover=True`,
      ),
    ).toBe("OctopusHA");
    expect(open(withSecret("Server=127.0.0.1,50003;Database=OctopusHA;User Id=octoha_reader", "Password", FAKE_PASSWORD))).toMatch(
      /server was not found/,
    );
    expect(open(withSecret("Server=127.0.0.1;Database=OctopusHA;User Id=octoha_reader", "Password", FAKE_PASSWORD))).toMatch(
      /server was not found/,
    );
    expect(open(withSecret("Server=127.0.0.1,50002;Database=OctopusHA;User Id=octoha_reader", "Password", FAKE_WRONG_PASSWORD))).toBe(
      "Login failed for user 'octoha_reader'.",
    );
    expect(open(withSecret("Server=127.0.0.1,50002;Database=Octopus;User Id=octoha_reader", "Password", FAKE_PASSWORD))).toMatch(
      /Cannot open database "Octopus"/,
    );
    expect(open("Server=127.0.0.1,50002;Database=OctopusHA;Integrated Security=SSPI")).toMatch(
      /Login failed for user 'NT AUTHORITY\\SYSTEM'/,
    );
    expect(open("Database=OctopusHA")).toMatch(/names no server/);
  });

  it("describes a connection string for a log without its password", () => {
    expect(describeConnectionString(`${withSecret("Server=s,1;Database=d;User Id=u", "Password", FAKE_PASSWORD)};Encrypt=true`)).toBe(
      withSecret("Server=s,1;Database=d;User Id=u", "Password", "****"),
    );
    expect(describeConnectionString(withSecret("Server=s", "Pwd", `${WORD};t`, "'"))).not.toContain(`${WORD};t`);
    expect(describeConnectionString("garbage")).toBe("(an unparseable connection string)");
  });
});
