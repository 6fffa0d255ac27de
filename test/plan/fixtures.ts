/** A valid two-node Windows plan (and a Linux container one) that the bad-plan fixtures break one way each. */
import type { PlanInput } from "../../src/plan/schema.js";

/** A Windows node whose C:\Octopus folders this machine reaches through the admin share. */
function windowsNode(name: string): PlanInput["nodes"][number] {
  const folder = (kind: string) => ({ octopus: `C:\\Octopus\\${kind}`, access: `\\\\${name}\\c$\\Octopus\\${kind}` });
  return {
    name,
    url: `https://${name.toLowerCase()}.example.com`,
    folders: { taskLogs: folder("TaskLogs"), artifacts: folder("Artifacts"), packages: folder("Packages") },
    control: { kind: "sc", host: name },
  };
}

export function windowsPlan(): PlanInput {
  return {
    version: 1,
    octopus: {
      serverUrl: "https://octopus.example.com",
      apiKey: { env: "OCTOPUS_API_KEY" },
      sql: { connectionString: { env: "OCTOHA_SQL_CONNECTION_STRING" } },
      platform: "windows",
    },
    nodes: [windowsNode("OCTO1"), windowsNode("OCTO2")],
    shared: {
      clusterShared: { octopus: "\\\\fs01\\OctopusShared" },
      taskLogs: { octopus: "\\\\fs01\\OctopusShared\\TaskLogs" },
      artifacts: { octopus: "\\\\fs01\\OctopusShared\\Artifacts" },
      packages: { octopus: "\\\\fs01\\OctopusShared\\Packages" },
    },
  };
}

export function linuxPlan(): PlanInput {
  return {
    version: 1,
    octopus: {
      serverUrl: "https://octopus.example.com",
      sql: { connectionString: { env: "OCTOHA_SQL_CONNECTION_STRING" } },
      platform: "linux",
    },
    nodes: [
      {
        name: "octo-linux-1",
        url: "https://octo-linux-1.example.com",
        folders: {
          taskLogs: { octopus: "/taskLogs", access: "/srv/octopus/node1/taskLogs" },
          artifacts: { octopus: "/artifacts", access: "/srv/octopus/node1/artifacts" },
          packages: { octopus: "/repository", access: "/srv/octopus/node1/repository" },
        },
      },
    ],
    shared: {
      taskLogs: { octopus: "/taskLogs", access: "/mnt/octoshared/taskLogs" },
      artifacts: { octopus: "/artifacts", access: "/mnt/octoshared/artifacts" },
      packages: { octopus: "/repository", access: "/mnt/octoshared/repository" },
    },
  };
}

/** Loose handle for breaking a plan in ways its type forbids. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Loose = Record<string, any>;

export interface BadPlan {
  /** What the operator did wrong. */
  name: string;
  plan: Loose;
  /** JSON path that must be named on stderr. */
  path: string;
  /** More text stderr must contain (e.g. the unknown key). */
  mentions?: string[];
  /** Secret text that must never appear in any output. */
  secret?: string;
}

function broken(base: () => PlanInput, name: string, path: string, edit: (p: Loose) => void, extra: Partial<BadPlan> = {}): BadPlan {
  const plan = structuredClone(base()) as Loose;
  edit(plan);
  return { name, plan, path, ...extra };
}

export const BAD_PLANS: BadPlan[] = [
  broken(windowsPlan, "a typo in an option name", "options", (p) => (p.options = { concurency: 4 }), {
    mentions: ['"concurency"', 'Did you mean "concurrency"'],
  }),
  broken(
    windowsPlan,
    "a typo in a node folder kind",
    "nodes[0].folders",
    (p) => (p.nodes[0].folders.taskLog = p.nodes[0].folders.taskLogs),
    { mentions: ['"taskLog"'] },
  ),
  broken(windowsPlan, "a typo at the top level", "(plan)", (p) => (p.node = []), { mentions: ['"node"'] }),
  broken(windowsPlan, "a relative shared path", "shared.taskLogs.octopus", (p) => (p.shared.taskLogs.octopus = "TaskLogs"), {
    mentions: ["relative path"],
  }),
  broken(
    windowsPlan,
    "a relative access path",
    "nodes[1].folders.artifacts.access",
    (p) => (p.nodes[1].folders.artifacts.access = "octo2/Artifacts"),
    { mentions: ["relative path"] },
  ),
  broken(windowsPlan, "a Linux path on a Windows plan", "shared.packages.octopus", (p) => (p.shared.packages.octopus = "/mnt/packages"), {
    mentions: ["a Linux path"],
  }),
  broken(
    linuxPlan,
    "a Windows path on a Linux-container plan",
    "nodes[0].folders.taskLogs.octopus",
    (p) => (p.nodes[0].folders.taskLogs.octopus = "C:\\Octopus\\TaskLogs"),
    { mentions: ["a Windows path"] },
  ),
  broken(
    windowsPlan,
    "two kinds sharing one shared folder",
    "shared.artifacts.octopus",
    (p) => (p.shared.artifacts.octopus = "\\\\FS01\\octopusshared\\tasklogs"),
    { mentions: ["same folder as shared.taskLogs"] },
  ),
  broken(
    windowsPlan,
    "one shared kind nested in another",
    "shared.packages.octopus",
    (p) => (p.shared.packages.octopus = "\\\\fs01\\OctopusShared\\TaskLogs\\Packages"),
    { mentions: ["inside shared.taskLogs"] },
  ),
  broken(
    windowsPlan,
    "two kinds sharing one node folder",
    "nodes[1].folders.packages.access",
    (p) => (p.nodes[1].folders.packages = { octopus: "C:\\Octopus\\Artifacts", access: "\\\\OCTO2\\c$\\Octopus\\Artifacts" }),
    { mentions: ["same folder as nodes[1].folders.artifacts"] },
  ),
  broken(
    windowsPlan,
    "a target inside a source (octopus spelling, same node)",
    "nodes[0].folders.taskLogs.octopus",
    (p) => (p.shared.taskLogs.octopus = "c:\\octopus\\tasklogs\\shared"),
    { mentions: ["target inside a source"] },
  ),
  broken(
    windowsPlan,
    "a source inside a target (access spelling, different case)",
    "nodes[1].folders.taskLogs.access",
    (p) => (p.nodes[1].folders.taskLogs.access = "\\\\FS01\\octopusshared\\TASKLOGS\\octo2"),
    { mentions: ["source inside a target"] },
  ),
  broken(
    windowsPlan,
    "shared storage equal to a node's local folder",
    "nodes[0].folders.artifacts.octopus",
    (p) =>
      (p.nodes[0].folders.artifacts = { octopus: "\\\\fs01\\OctopusShared\\Artifacts\\", access: "\\\\OCTO1\\c$\\Octopus\\Artifacts" }),
    { mentions: ["is shared.artifacts itself"] },
  ),
  broken(windowsPlan, "duplicate node names differing in case", "nodes[1].name", (p) => (p.nodes[1].name = "octo1"), {
    mentions: ["duplicate node name"],
  }),
  broken(windowsPlan, "a node name that leads out of its folder", "nodes[1].name", (p) => (p.nodes[1].name = "../../etc"), {
    mentions: ["contains '/'", "becomes a folder name", "not '.' or '..'"],
  }),
  broken(windowsPlan, "a node name that is '..'", "nodes[0].name", (p) => (p.nodes[0].name = ".."), {
    mentions: ["is '..'", "quarantine folder"],
  }),
  broken(windowsPlan, "a node name with a backslash", "nodes[0].name", (p) => (p.nodes[0].name = "OCTO1\\..\\x"), {
    mentions: ["contains '\\'"],
  }),
  broken(
    windowsPlan,
    "an API key written where the env reference belongs",
    "octopus.apiKey",
    (p) => (p.octopus.apiKey = "API-ABCDEFGH1234567890XYZ"),
    { secret: "ABCDEFGH1234567890XYZ" },
  ),
  broken(
    windowsPlan,
    "a connection string with a password written inline",
    "octopus.sql.connectionString",
    (p) => (p.octopus.sql.connectionString = "Server=sql01;Database=Octopus;User Id=octo;Password=Tr0ub4dor&3"),
    { secret: "Tr0ub4dor&3" },
  ),
  broken(
    windowsPlan,
    "a password in a node's service command",
    "nodes[0].service.stop[2]",
    (p) => (p.nodes[0].service = { stop: ["sc.exe", "stop", "password=Correct-Horse-9"] }),
    { secret: "Correct-Horse-9" },
  ),
  broken(
    windowsPlan,
    "a two-node plan whose second node has no control recipe (the local default would stop this machine twice)",
    "nodes[1].control",
    (p) => delete p.nodes[1].control,
    { mentions: ["never reach the others", '"kind": "sc"', '"kind": "winrm"', '"kind": "ssh"'] },
  ),
  broken(
    windowsPlan,
    "two nodes that both say they are this machine (local)",
    "nodes[1].control",
    (p) => {
      p.nodes[0].control = { kind: "local" };
      p.nodes[1].control = { kind: "local" };
    },
    { mentions: ["already used by nodes[0] (OCTO1)"] },
  ),
  broken(
    windowsPlan,
    "a password on a node's control command line",
    "nodes[1].control.start[3]",
    (p) =>
      (p.nodes[1].control = {
        kind: "argv",
        stop: ["ssh", "octo2", "stop"],
        start: ["ssh", "octo2", "start", "--password=Correct-Horse-7"],
      }),
    { secret: "Correct-Horse-7" },
  ),
  broken(
    windowsPlan,
    "an sc recipe whose host is written as a UNC name",
    "nodes[1].control.host",
    (p) => (p.nodes[1].control.host = "\\\\OCTO2"),
  ),
  broken(
    windowsPlan,
    "an ssh recipe whose unit would reach the remote shell with a metacharacter",
    "nodes[1].control.unit",
    (p) => (p.nodes[1].control = { kind: "ssh", host: "octo2", unit: "octopus;reboot" }),
  ),
  broken(windowsPlan, "a node URL that is not http(s)", "nodes[0].url", (p) => (p.nodes[0].url = "ftp://octo1.example.com"), {
    mentions: ["not an http(s) URL"],
  }),
  broken(
    windowsPlan,
    "clusterShared equal to a kind folder",
    "shared.clusterShared.octopus",
    (p) => (p.shared.clusterShared.octopus = "\\\\fs01\\OctopusShared\\TaskLogs"),
    { mentions: ["parent of the shared folders"] },
  ),
  broken(
    windowsPlan,
    "two nodes whose folders this machine reaches at one place",
    "nodes[1].folders.taskLogs.access",
    (p) => (p.nodes[1].folders.taskLogs.access = p.nodes[0].folders.taskLogs.access),
    { mentions: ["same place as nodes[0].folders.taskLogs"] },
  ),
  broken(
    windowsPlan,
    "a node folder kind with no shared folder",
    "nodes[0].folders.imports",
    (p) => (p.nodes[0].folders.imports = { octopus: "C:\\Octopus\\Imports", access: "\\\\OCTO1\\c$\\Octopus\\Imports" }),
    { mentions: ["shared.imports is not"] },
  ),
  broken(
    windowsPlan,
    "a state directory inside a shared kind folder",
    "options.stateDir",
    (p) => (p.options = { stateDir: "\\\\fs01\\OctopusShared\\TaskLogs\\.octoha" }),
    { mentions: ["inside shared.taskLogs"] },
  ),
  broken(windowsPlan, "an unsupported plan format version", "version", (p) => (p.version = 2), { mentions: ["expected 1, found 2"] }),
  broken(windowsPlan, "a required shared folder missing", "shared.packages", (p) => delete p.shared.packages),
  broken(windowsPlan, "a concurrency of zero", "options.concurrency", (p) => (p.options = { concurrency: 0 })),
  broken(windowsPlan, "an unknown collision policy", "options.collisionPolicy", (p) => (p.options = { collisionPolicy: "overwrite" })),
  broken(
    windowsPlan,
    "a polling address without a scheme",
    "nodes[0].pollingAddress",
    (p) => (p.nodes[0].pollingAddress = "octo1.example.com:10943"),
    { mentions: ["https:// or wss://"] },
  ),
  broken(windowsPlan, "a node URL that is the load balancer's", "nodes[1].url", (p) => (p.nodes[1].url = "https://OCTOPUS.example.com/"), {
    mentions: ["the load balancer's address"],
  }),
  broken(
    windowsPlan,
    "two nodes with one polling address",
    "nodes[1].pollingAddress",
    (p) => {
      p.nodes[0].pollingAddress = "https://lb.example.com:10943";
      p.nodes[1].pollingAddress = "https://LB.example.com:10943/";
    },
    { mentions: ["unique port"] },
  ),
  broken(
    windowsPlan,
    "a path with a trailing space",
    "shared.artifacts.octopus",
    (p) => (p.shared.artifacts.octopus = "\\\\fs01\\OctopusShared\\Artifacts "),
    { mentions: ["trailing spaces"] },
  ),
  broken(
    windowsPlan,
    "an env reference that is not a variable name",
    "octopus.apiKey.env",
    (p) => (p.octopus.apiKey = { env: "OCTOPUS-API-KEY" }),
    { mentions: ['found "OCTOPUS-API-KEY"'] },
  ),
  broken(windowsPlan, "no nodes", "nodes", (p) => (p.nodes = [])),
  broken(
    windowsPlan,
    "a character Windows forbids",
    "nodes[0].folders.packages.octopus",
    (p) => (p.nodes[0].folders.packages.octopus = "C:\\Octopus\\Pack|ages"),
    { mentions: ["does not allow"] },
  ),
  broken(windowsPlan, "a UNC path without a share", "shared.clusterShared.octopus", (p) => (p.shared.clusterShared.octopus = "\\\\fs01"), {
    mentions: ["needs a server and a share"],
  }),
];
