/**
 * The CLI adapters pass the port contracts by running the stand-in's octopus-server executable as a
 * real child process (dist/ is built by pretest).
 */
import { CliNodeServices } from "../../src/octopus/cli/services.js";
import { CliServerFolders } from "../../src/octopus/cli/folders.js";
import { OctopusHttpClient, serviceStateViaPing } from "../../src/octopus/rest/index.js";
import type { ServerFolderPaths } from "../../src/octopus/types.js";
import { nodeUrls, startTestStandin, type TestStandin } from "@octoha/standin/testing";
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

describeServicesContract("each machine's octopus-server service --stop/--start --instance OctopusServer", async () => {
  const s = await startTestStandin();
  const client = new OctopusHttpClient({ serverUrl: s.url, apiKey: s.apiKey, nodeUrls: nodeUrls(s), timeoutMs: 3000 });
  // Each node's own executable: the local one manages only this machine's instance.
  const perNode = Object.fromEntries(
    s.nodes.map((n) => [
      n.name,
      {
        stop: [n.serverExe, "service", "--stop", "--instance=OctopusServer"],
        start: [n.serverExe, "service", "--start", "--instance=OctopusServer"],
      },
    ]),
  );
  return {
    port: new CliNodeServices({
      command: [s.serverExe],
      instanceFor: () => "OctopusServer",
      perNode,
      probe: (name) => serviceStateViaPing(client, name),
      timeoutMs: 20_000,
    }),
    control: { nodeNames: s.cluster.nodes().map((n) => n.name), isRunning: async (name) => s.cluster.node(name).running },
    close: () => s.close(),
  };
});
