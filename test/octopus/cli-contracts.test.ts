/**
 * The CLI adapters pass the port contracts by running the stand-in's octopus-server executable as a
 * real child process (dist/ is built by pretest).
 */
import path from "node:path";
import { RecipeNodeServices, DEFAULT_TOOLS, type ControlRecipe } from "../../src/octopus/control/index.js";
import { CliServerFolders } from "../../src/octopus/cli/folders.js";
import { OctopusHttpClient, serviceStateViaPing } from "../../src/octopus/rest/index.js";
import type { ServerFolderPaths } from "../../src/octopus/types.js";
import { nodeUrls, startTestStandin, writeNodeControlLookalikes, type TestStandin } from "@octoha/standin/testing";
import { describeFoldersContract } from "./contracts/folders.js";
import { HOME } from "@octoha/standin";
import { describeServicesContract } from "./contracts/services.js";

function stored(s: TestStandin): ServerFolderPaths {
  const f = s.cluster.state().folders;
  return {
    taskLogs: f.taskLogs,
    artifacts: f.artifacts,
    packages: f.packages,
    clusterShared: f.clusterShared,
    imports: f.imports,
    eventExports: f.eventExports,
  };
}

// 2022.1 lacks --eventExports, so the refusal behaviour is exercised too.
for (const version of ["2022.1.2000"]) {
  describeFoldersContract(`octopus-server path/show-configuration, Octopus ${version}`, async () => {
    const s = await startTestStandin({ version });
    return {
      port: new CliServerFolders({ command: [s.serverExe], instance: "OctopusServer", version: async () => version, timeoutMs: 20_000 }),
      control: { version, home: HOME, stored: async () => stored(s) },
      close: () => s.close(),
    };
  });
}

/** Each recipe, through the sc/powershell/ssh look-alikes or each node's own executable (argv). */
const RECIPES: Record<string, (host: string, s: TestStandin) => ControlRecipe> = {
  argv: (host, s) => {
    const exe = s.nodes.find((n) => n.name === host)!.serverExe;
    return {
      kind: "argv",
      stop: [exe, "service", "--stop", "--instance=OctopusServer"],
      start: [exe, "service", "--start", "--instance=OctopusServer"],
    };
  },
  sc: (host) => ({ kind: "sc", host }),
  winrm: (host) => ({ kind: "winrm", host }),
  ssh: (host) => ({ kind: "ssh", host, sudo: true }),
};

for (const [kind, recipe] of Object.entries(RECIPES)) {
  describeServicesContract(`the ${kind} node-control recipe`, async () => {
    const s = await startTestStandin();
    const client = new OctopusHttpClient({ serverUrl: s.url, apiKey: s.apiKey, nodeUrls: nodeUrls(s), timeoutMs: 3000 });
    const tools = writeNodeControlLookalikes(path.join(s.tmp, "tools"), s);
    return {
      port: new RecipeNodeServices({
        recipes: Object.fromEntries(s.nodes.map((n) => [n.name, recipe(n.name, s)])),
        serverExe: s.serverExe,
        instance: "OctopusServer",
        tools: { ...DEFAULT_TOOLS, sc: tools.sc, powershell: tools.powershell, ssh: tools.ssh },
        timeoutMs: 20_000,
        pollIntervalMs: 50,
        ping: (name) => serviceStateViaPing(client, name),
      }),
      control: { nodeNames: s.cluster.nodes().map((n) => n.name), isRunning: async (name) => s.cluster.node(name).running },
      close: () => s.close(),
    };
  });
}
