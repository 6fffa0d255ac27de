/**
 * The plan file: the operator's intent (design.md, "Plan"). Secrets are never inline, only
 * `{ "env": "NAME" }` references. Every location has an `octopus` spelling (as Octopus sees it
 * and as `path` writes it) and an `access` spelling (how this process reaches the same place;
 * defaults to `octopus`). Cross-field rules live in validate.ts.
 */
import { z } from "zod";

export const PLAN_FORMAT_VERSION = 1;

export const EnvRef = z
  .object({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "an environment variable name") })
  .strict()
  .describe("A secret read from this environment variable at run time; never write the secret itself into the plan.");
export type EnvRef = z.infer<typeof EnvRef>;

export const Location = z
  .object({
    octopus: z
      .string()
      .min(1)
      .describe(
        "The path as Octopus sees it and as `Octopus.Server.exe path` writes it: C:\\…, \\\\server\\share\\…, or /… for Linux containers.",
      ),
    access: z.string().min(1).optional().describe("The same place as this process reaches it (defaults to `octopus`)."),
  })
  .strict();
export type Location = z.infer<typeof Location>;

const Argv = z.array(z.string().min(1)).min(1).describe("A command as an argv array (never a shell string).");

const Host = z
  .string()
  .regex(/^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/, "a host name or IPv4 address (letters, digits, dots, hyphens)")
  .describe("The node's machine as this one reaches it: OCTO2, octo2.corp.example.com or an IP address.");

/** Words that end up on a remote shell's command line (ssh): strictly no metacharacters. */
const RemoteWord = (what: string) => z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.@:+-]*$/, `${what}: letters, digits and _ . @ : + - only`);

export const LocalControl = z
  .object({ kind: z.literal("local") })
  .strict()
  .describe(
    "This machine: octopus.serverExe `service --stop|--start --instance=<octopus.instance>`. Octopus.Server.exe manages only the instances of the machine it runs on, so at most one node (the one octoha runs on) can use it.",
  );

export const ScControl = z
  .object({
    kind: z.literal("sc"),
    host: Host,
    service: z
      .string()
      .min(1)
      .optional()
      .describe('Windows service name; default OctopusDeploy for the instance OctopusServer, else "OctopusDeploy: <instance>".'),
  })
  .strict()
  .describe(
    "Windows service manager over RPC: `sc.exe \\\\HOST query|stop|start <service>`. octoha's account needs local admin rights on HOST, and the firewall must allow remote service management (RPC/SMB).",
  );

export const WinRmControl = z
  .object({
    kind: z.literal("winrm"),
    host: Host,
    serverExe: z
      .string()
      .min(1)
      .optional()
      .describe("Octopus.Server.exe on that node (default C:\\Program Files\\Octopus Deploy\\Octopus\\Octopus.Server.exe)."),
    instance: z.string().min(1).optional().describe("The instance on that node (default octopus.instance)."),
    service: z.string().min(1).optional().describe("Its Windows service name, for the status (default from the instance, as for sc)."),
  })
  .strict()
  .describe(
    "PowerShell remoting: `Invoke-Command -ComputerName HOST { & <serverExe> service --stop|--start --instance <instance> }`, status through Get-Service. Needs WinRM on HOST and admin rights there.",
  );

export const SshControl = z
  .object({
    kind: z.literal("ssh"),
    host: Host,
    user: RemoteWord("a user name").optional().describe("Login user (default: ssh's own default)."),
    unit: RemoteWord("a systemd unit name").optional().describe("The systemd unit running Octopus Server (default octopusdeploy)."),
    sudo: z.boolean().optional().describe("Run systemctl stop/start through `sudo -n` (passwordless sudo for the unit)."),
  })
  .strict()
  .describe(
    "Linux: `ssh -o BatchMode=yes [user@]HOST [sudo -n] systemctl stop|start|is-active <unit>` (key-based login, no password prompt).",
  );

export const ArgvControl = z
  .object({
    kind: z.literal("argv"),
    stop: Argv,
    start: Argv,
    status: Argv.optional().describe(
      "Read-only state command: prints running/stopped (or active/inactive, true/false), or exits 3 when stopped. Without it the node's ping decides.",
    ),
    serverExe: Argv.optional().describe(
      "This node's Octopus.Server.exe as an argv run from here (a path, or a prefix such as docker exec CONTAINER /Octopus/Octopus.Server); only database.moveTo uses it, appending `database --instance <instance> --connectionString=…`.",
    ),
    exec: Argv.optional().describe(
      "A prefix that runs one command on the node (e.g. docker exec octo3): `octoha join` runs Octopus.Server through it.",
    ),
  })
  .strict()
  .describe("Your own commands (docker, kubectl, Ansible …), each an argv array run without a shell.");

export const NodeControl = z
  .discriminatedUnion("kind", [LocalControl, ScControl, WinRmControl, SshControl, ArgvControl])
  .describe(
    "How octoha stops, starts and reads this node's Octopus service where it runs: local (this machine), sc, winrm, ssh or argv. Required on every node of a multi-node plan but the one octoha runs on.",
  );
export type NodeControl = z.infer<typeof NodeControl>;

export const NodeFolders = z
  .object({
    taskLogs: Location.optional(),
    artifacts: Location.optional(),
    packages: Location.optional(),
    imports: Location.optional(),
    eventExports: Location.optional(),
  })
  .strict();

export const PlanNode = z
  .object({
    name: z.string().min(1).describe("Node name as Octopus knows it (Configuration ➜ Nodes)."),
    url: z.string().url().optional().describe("This node's own base URL, bypassing the load balancer (verification, ping)."),
    pollingAddress: z
      .string()
      .min(1)
      .optional()
      .describe(
        "Where polling Tentacles reach this node's comms port, bypassing the load balancer: https://octo1.corp:10943, or wss://octo1.corp/OctopusComms for WebSockets. Defaults to this node's url host on port 10943 (`octoha tentacles`).",
      ),
    folders: NodeFolders.default({}).describe("This node's current local folders, as Octopus sees them and as this process reaches them."),
    control: NodeControl.optional(),
    service: z
      .object({ stop: Argv.optional(), start: Argv.optional() })
      .strict()
      .optional()
      .describe('Deprecated: write control: { "kind": "argv", "stop": […], "start": […] } instead (read as that).'),
  })
  .strict();
export type PlanNode = z.infer<typeof PlanNode>;

export const SharedFolders = z
  .object({
    clusterShared: Location.optional(),
    taskLogs: Location,
    artifacts: Location,
    packages: Location,
    imports: Location.optional(),
    eventExports: Location.optional(),
  })
  .strict();
export type SharedFolders = z.infer<typeof SharedFolders>;

export const PlanOptions = z
  .object({
    // The copy engine's DEFAULT_CONCURRENCY (plan may not import storage).
    concurrency: z.number().int().min(1).max(256).default(16),
    drainTimeoutMinutes: z
      .number()
      .min(0)
      .max(24 * 60)
      .default(30),
    /** Seconds to wait after drain for task-log handles to close (Octopus keeps a log open ~1 min). */
    logHandleWaitSeconds: z.number().int().min(0).max(3600).default(60),
    cancelTasksOnDrainTimeout: z.boolean().default(false),
    serviceStartTimeoutMinutes: z
      .number()
      .min(0)
      .max(24 * 60)
      .default(5)
      .describe(
        "How long start-services (and a rollback that starts nodes) waits for every started node to answer its ping; an Octopus Server answers 503 while it starts.",
      ),
    collisionPolicy: z.enum(["keep-target", "keep-newer", "fail"]).default("keep-target"),
    verify: z.enum(["none", "size", "sha256"]).default("sha256"),
    approvals: z.enum(["required", "auto"]).default("required"),
    onFailure: z.enum(["stop", "rollback"]).default("stop"),
    stateDir: z
      .string()
      .optional()
      .describe("Where journals and locks live; default .octoha next to the plan. Put it on shared storage to resume from another node."),
    verifySampleSize: z.number().int().min(1).default(25),
    serviceCommandTimeoutSeconds: z
      .number()
      .int()
      .min(1)
      .max(3600)
      .default(120)
      .describe(
        "How long one node-control command may run before it is killed, and how long a stop/start may take to reach STOPPED/RUNNING (sc polls query until then).",
      ),
    tools: z
      .object({
        sc: z.string().min(1).optional().describe("sc.exe (default: sc.exe on PATH)."),
        powershell: z
          .string()
          .min(1)
          .optional()
          .describe("PowerShell for the winrm recipe (default: powershell.exe on PATH; pwsh works too)."),
        ssh: z.string().min(1).optional().describe("The ssh client (default: ssh on PATH)."),
      })
      .strict()
      .default({})
      .describe("The executables node-control recipes run, when not the ones on PATH."),
  })
  .strict();
export type PlanOptions = z.infer<typeof PlanOptions>;

export const DatabaseMove = z
  .object({
    moveTo: EnvRef.describe(
      "The connection string of the database the nodes move to (a DBA's restore of the current database, e.g. on an HA instance), from this environment variable. repoint-database compares it with the current database and writes it into every node's config with `Octopus.Server.exe database --connectionString`.",
    ),
    current: EnvRef.optional().describe(
      "The connection string the nodes use now, which a rollback writes back into every node's config. Default: octopus.sql.connectionString's variable (then that login must be the one Octopus runs with).",
    ),
  })
  .strict()
  .describe("Moving Octopus onto another database (issue 13): octoha never backs up, restores or writes to either database.");
export type DatabaseMove = z.infer<typeof DatabaseMove>;

export const Plan = z
  .object({
    $schema: z.string().optional(),
    version: z.literal(PLAN_FORMAT_VERSION),
    octopus: z
      .object({
        serverUrl: z.string().url().describe("The load-balanced Octopus URL."),
        apiKey: EnvRef.default({ env: "OCTOPUS_API_KEY" }),
        sql: z
          .object({ connectionString: EnvRef })
          .strict()
          .describe("Read-only inventory: which tasks exist, where they ran, which packages are indexed."),
        serverExe: z
          .string()
          .min(1)
          .default("Octopus.Server.exe")
          .describe("Octopus.Server.exe (Windows) or Octopus.Server (Linux) as this process runs it."),
        instance: z.string().min(1).default("OctopusServer"),
        platform: z
          .enum(["windows", "linux"])
          .default("windows")
          .describe("Path style Octopus uses: windows (C:\\, \\\\server\\share) or linux (containers)."),
      })
      .strict(),
    nodes: z.array(PlanNode).min(1),
    shared: SharedFolders,
    database: DatabaseMove.optional(),
    options: PlanOptions.default(PlanOptions.parse({})),
  })
  .strict();
export type Plan = z.infer<typeof Plan>;
export type PlanInput = z.input<typeof Plan>;
