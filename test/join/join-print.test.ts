/**
 * `octoha join NODE --print` against the stand-in: the Octopus.Server commands in order, quoted for
 * PowerShell and bash (a home folder with a space and a quote), the read-only checks (name taken:
 * exit 2; the cluster's version printed), and no secret in any output. The bash script is run for
 * real with a stand-in executable that records the argv it gets.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStandin, type TestStandin } from "@octoha/standin/testing";
import { cleanEnv, runCli } from "../helpers/cli.js";
import { errorOf, resultOf } from "../helpers/envelope.js";

const MASTER_KEY = "Nc91+1kfZszMpe7DMne8wg==";
const SQL = "Server=sql01;Database=Octopus;User Id=octopus;Password=It's a S3cret; Encrypt=True;";
const WIN_HOME = "C:\\Octopus Home\\it's";
const LINUX_HOME = "/srv/octopus home/it's";

let standin: TestStandin;
let planFile: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  standin = await startTestStandin({ nodes: 2 });
  planFile = path.join(standin.tmp, "plan.json");
  const plan = {
    version: 1,
    octopus: { serverUrl: standin.url, sql: { connectionString: { env: "OCTOHA_SQL_CONNECTION_STRING" } } },
    nodes: standin.nodes.map((n) => ({ name: n.name, url: n.url, control: { kind: "sc", host: n.name } })),
    shared: {
      clusterShared: { octopus: "\\\\fs01\\Octopus Shared" },
      taskLogs: { octopus: "\\\\fs01\\Octopus Shared\\TaskLogs" },
      artifacts: { octopus: "\\\\fs01\\Octopus Shared\\Artifacts" },
      packages: { octopus: "\\\\fs01\\Octopus Shared\\Packages" },
    },
  };
  writeFileSync(planFile, JSON.stringify(plan, null, 2));
  env = cleanEnv({ OCTOPUS_API_KEY: standin.apiKey, OCTOHA_SQL_CONNECTION_STRING: SQL, OCTOPUS_MASTER_KEY: MASTER_KEY });
});
afterAll(async () => standin?.close());

const noSecrets = (...texts: string[]) => {
  for (const t of texts) for (const s of [MASTER_KEY, SQL, "S3cret", standin.apiKey]) expect(t).not.toContain(s);
};

interface Printed {
  cluster: { version: string; nodes: string[] };
  commands: { step: string; commandLine: string; optional?: boolean }[];
}

describe("octoha join NODE --print", () => {
  it("prints the Windows commands in order, quoted for PowerShell, after checking the name and reading the cluster's version", async () => {
    const args = ["join", "OCTO3", "--plan", planFile, "--print", "--home", WIN_HOME, "--url", "http://octo3.corp:8080/"];
    const text = await runCli(args, { env });
    expect(text.code, text.stderr).toBe(0);
    const json = await runCli([...args, "--json"], { env });
    expect(json.code, json.stderr).toBe(0);
    const printed = resultOf<Printed>(json.stdout, "join", 0);
    const version = standin.cluster.state().version;
    expect(printed.cluster).toEqual({ version, nodes: ["OCTO1", "OCTO2"] });
    expect(text.stdout).toContain(`Install Octopus Server ${version} on OCTO3, exactly that version`);
    expect(printed.commands.map((c) => c.step)).toEqual(["create-instance", "database", "configure", "path", "service-install"]);
    const exe = "& 'C:\\Program Files\\Octopus Deploy\\Octopus\\Octopus.Server.exe'";
    const [create, database, configure, pathCmd, install] = printed.commands.map((c) => c.commandLine);
    expect(create).toBe(
      `${exe} create-instance --instance OctopusServer --config 'C:\\Octopus\\OctopusServer.config' --home 'C:\\Octopus Home\\it''s' --serverNodeName OCTO3`,
    );
    expect(database).toBe(
      `${exe} database --instance OctopusServer --connectionString $env:OCTOHA_SQL_CONNECTION_STRING --masterKey $env:OCTOPUS_MASTER_KEY`,
    );
    expect(configure).toBe(
      `${exe} configure --instance OctopusServer --webForceSSL False --webListenPrefixes http://+:8080/ --commsListenPort 10943`,
    );
    expect(pathCmd).toContain("path --instance OctopusServer --clusterShared '\\\\fs01\\Octopus Shared' --taskLogs");
    expect(printed.commands[3]!.optional).toBe(true);
    expect(install).toBe(`${exe} service --instance OctopusServer --install --reconfigure --start`);
    // In the script: path commented out, each command stops the script when it fails, a guard first.
    expect(text.stdout).toContain(`\n# ${pathCmd}\n`);
    expect(text.stdout).toContain(`\n${database}; if ($LASTEXITCODE -ne 0) { throw 'database failed' }\n`);
    expect(text.stdout).toContain("foreach ($v in 'OCTOPUS_MASTER_KEY', 'OCTOHA_SQL_CONNECTION_STRING')");
    expect(text.stdout).toContain("Confirm the master key is backed up");
    expect(text.stdout).toMatch(/VERIFIED +create-instance --instance --config --home --serverNodeName/);
    // The same commands as a join run: no service --stop it does not have.
    expect(text.stdout).not.toMatch(/service --instance \S+ --stop/);
    expect(text.stdout).toContain("#  HA guide = https://octopus.com/docs/administration/high-availability\n");
    expect(text.stdout).not.toContain("active-directory");
    noSecrets(text.stdout, text.stderr, json.stdout, json.stderr);
  });

  it("prints bash commands that pass every argument intact, the secrets only from the environment, and stop when one is unset", async () => {
    const exe = path.join(standin.tmp, "Octopus Server");
    const log = path.join(standin.tmp, "argv.log");
    writeFileSync(exe, `#!/bin/bash\nfor a in "$@"; do printf '%s\\0' "$a"; done >> '${log}'\nprintf '\\n\\0' >> '${log}'\n`);
    chmodSync(exe, 0o755);
    const args = ["join", "OCTO3", "--plan", planFile, "--print", "--platform", "linux", "--home", LINUX_HOME, "--server-exe", exe];
    const printed = await runCli(args, { env });
    expect(printed.code, printed.stderr).toBe(0);
    noSecrets(printed.stdout, printed.stderr);
    const script = path.join(standin.tmp, "join.sh");
    writeFileSync(script, printed.stdout);

    const unset = spawnSync("bash", [script], { env: { PATH: process.env.PATH, OCTOHA_SQL_CONNECTION_STRING: SQL }, encoding: "utf8" });
    expect(unset.status).not.toBe(0);
    expect(unset.stderr).toContain("set OCTOPUS_MASTER_KEY first; nothing was changed");
    expect(() => readFileSync(log)).toThrow();

    const ran = spawnSync("bash", [script], {
      env: { PATH: process.env.PATH, OCTOHA_SQL_CONNECTION_STRING: SQL, OCTOPUS_MASTER_KEY: MASTER_KEY },
      encoding: "utf8",
    });
    expect(ran.status, ran.stderr).toBe(0);
    const calls = readFileSync(log, "utf8")
      .split("\n\0")
      .filter(Boolean)
      .map((c) => c.split("\0").filter((a, i, all) => i < all.length - 1 || a !== ""));
    expect(calls).toEqual([
      ["create-instance", "--instance", "OctopusServer", "--config", "/var/opt/octopus/OctopusServer.config", "--home", LINUX_HOME].concat([
        "--serverNodeName",
        "OCTO3",
      ]),
      ["database", "--instance", "OctopusServer", "--connectionString", SQL, "--masterKey", MASTER_KEY],
      [
        "configure",
        "--instance",
        "OctopusServer",
        "--webForceSSL",
        "False",
        "--webListenPrefixes",
        "http://+:80/",
        "--commsListenPort",
        "10943",
      ],
      ["service", "--instance", "OctopusServer", "--install", "--reconfigure", "--start"],
    ]);
  });

  it("refuses a node name the cluster already has (any case) with exit 2, printing no command", async () => {
    for (const name of ["OCTO2", "octo2"]) {
      const result = await runCli(["join", name, "--plan", planFile, "--print"], { env });
      expect(result.code).toBe(2);
      expect(result.stdout).toBe("");
      expect(result.stderr).toContain(`The node name ${name} is taken`);
      const json = await runCli(["join", name, "--plan", planFile, "--print", "--json"], { env });
      expect(errorOf(json.stdout, "join", 2)).toMatchObject({ code: "JOIN_NODE_NAME_TAKEN" });
      noSecrets(result.stdout, result.stderr, json.stdout);
    }
  });

  it("needs the API key to check the cluster (exit 2), unless --offline; without --print, a node not in the plan points at --print", async () => {
    const noKey = cleanEnv({ OCTOHA_SQL_CONNECTION_STRING: SQL, OCTOPUS_MASTER_KEY: MASTER_KEY });
    const refused = await runCli(["join", "OCTO3", "--plan", planFile, "--print"], { env: noKey });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("OCTOPUS_API_KEY");
    expect(refused.stderr).toContain("--offline");
    const offline = await runCli(["join", "OCTO3", "--plan", planFile, "--print", "--offline"], { env: noKey });
    expect(offline.code, offline.stderr).toBe(0);
    expect(offline.stdout).toContain("Not checked (--offline)");
    const noPrint = await runCli(["join", "OCTO3", "--plan", planFile], { env });
    expect(noPrint.code).toBe(2);
    expect(noPrint.stderr).toContain("OCTO3 is not a node of the plan");
    expect(noPrint.stderr).toContain("--print");
    // Only recipes join accepts are suggested (sc, and argv without exec, are refused by join).
    expect(noPrint.stderr).toContain('Recipes join can use: { "kind": "winrm"');
    expect(noPrint.stderr).not.toContain('"kind": "sc"');
    expect(noPrint.stderr).toContain('"exec": ["docker", "exec", "octo3"]');
    // --url is for --print: a run would otherwise ignore it and reach the node at the plan's url.
    const urlRun = await runCli(["join", "OCTO3", "--plan", planFile, "--url", "http://octo3.corp/"], { env });
    expect(urlRun.code).toBe(2);
    expect(urlRun.stderr).toContain("--url is for --print");
  });

  it("configures the plan's pollingAddress port, refuses a --comms-port that differs, and only notes a wss:// one", async () => {
    const plan = JSON.parse(readFileSync(planFile, "utf8")) as { nodes: Record<string, unknown>[] };
    const withOcto3 = (pollingAddress: string) => {
      const file = path.join(standin.tmp, `plan-polling-${plan.nodes.length}-${pollingAddress.slice(0, 3)}.json`);
      writeFileSync(
        file,
        JSON.stringify({
          ...plan,
          nodes: [...plan.nodes, { name: "OCTO3", url: "http://octo3.corp:80/", pollingAddress, control: { kind: "sc", host: "OCTO3" } }],
        }),
      );
      return file;
    };
    const https = withOcto3("https://octo3.corp:10944");
    const derived = await runCli(["join", "OCTO3", "--plan", https, "--print", "--json"], { env });
    expect(derived.code, derived.stderr).toBe(0);
    expect(resultOf<Printed>(derived.stdout, "join", 0).commands.find((c) => c.step === "configure")!.commandLine).toMatch(
      /--commsListenPort 10944$/,
    );
    const mismatch = await runCli(["join", "OCTO3", "--plan", https, "--print", "--comms-port", "10950"], { env });
    expect(mismatch.code, mismatch.stdout).toBe(2);
    expect(mismatch.stdout).toBe("");
    expect(mismatch.stderr).toMatch(/--comms-port 10950 differs from the port polling Tentacles are told for OCTO3 \(10944\)/);
    const wss = await runCli(["join", "OCTO3", "--plan", withOcto3("wss://octo3.corp:8443/OctopusComms"), "--print"], { env });
    expect(wss.code, wss.stderr).toBe(0);
    expect(wss.stdout).toMatch(/--commsListenPort 10943/);
    expect(wss.stdout).not.toMatch(/--commsListenPort 8443/);
    expect(wss.stdout).toMatch(/WebSocket polling\): these commands set up TCP polling only/);
  });

  it("a pollingAddress with no port configures the port tentacles tells (443), and one with port 0 is refused", async () => {
    const plan = JSON.parse(readFileSync(planFile, "utf8")) as { nodes: Record<string, unknown>[] };
    const withOcto3 = (pollingAddress: string, name: string) => {
      const file = path.join(standin.tmp, `plan-polling-${name}.json`);
      const node = { name: "OCTO3", url: "http://octo3.corp:80/", pollingAddress, control: { kind: "sc", host: "OCTO3" } };
      writeFileSync(file, JSON.stringify({ ...plan, nodes: [...plan.nodes, node] }));
      return file;
    };
    const bare = withOcto3("https://octo3.corp", "bare");
    const printed = await runCli(["join", "OCTO3", "--plan", bare, "--print", "--offline"], { env });
    expect(printed.code, printed.stderr).toBe(0);
    expect(printed.stdout).toMatch(/--commsListenPort 443;/);
    const told = await runCli(["tentacles", bare, "--json"], { env });
    expect(told.stdout).toContain("--server-comms-address=https://octo3.corp");
    const agreed = await runCli(["join", "OCTO3", "--plan", bare, "--print", "--offline", "--comms-port", "443"], { env });
    expect(agreed.code, agreed.stderr).toBe(0);
    const other = await runCli(["join", "OCTO3", "--plan", bare, "--print", "--offline", "--comms-port", "10943"], { env });
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/with no port: `octoha tentacles` tells Tentacles that address, which they reach on https's port 443/);
    const zero = await runCli(["join", "OCTO3", "--plan", withOcto3("https://octo3.corp:0", "zero"), "--print", "--offline"], { env });
    expect(zero.code, zero.stdout).toBe(2);
    expect(zero.stdout).not.toMatch(/--commsListenPort 0/);
    expect(zero.stderr).toMatch(/pollingAddress/);
  });

  it("refuses a --url that is not http(s) with exit 2, naming --url, printing no command", async () => {
    for (const url of ["ftp://octo3/", "ws://octo3/", "gopher://octo3/", "octo3.corp:8080"]) {
      const args = ["join", "OCTO3", "--plan", planFile, "--print", "--offline", "--url", url];
      const result = await runCli(args, { env });
      expect(result.code, result.stderr).toBe(2);
      expect(result.stdout).toBe("");
      expect(result.stderr).toContain(`--url ${url}: not an http(s) URL; only http:// or https:// node URLs are accepted`);
      const json = await runCli([...args, "--json"], { env });
      expect(errorOf(json.stdout, "join", 2)).toMatchObject({ code: "JOIN_URL_INVALID" });
    }
  });
});
