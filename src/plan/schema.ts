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
    service: z
      .object({ stop: Argv.optional(), start: Argv.optional() })
      .strict()
      .optional()
      .describe("Commands that stop/start this node's Octopus service, replacing `Octopus.Server.exe service`."),
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
    concurrency: z.number().int().min(1).max(256).default(8),
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
  })
  .strict();
export type PlanOptions = z.infer<typeof PlanOptions>;

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
    options: PlanOptions.default(PlanOptions.parse({})),
  })
  .strict();
export type Plan = z.infer<typeof Plan>;
export type PlanInput = z.input<typeof Plan>;
