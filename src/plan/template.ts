/**
 * `octoha init`: a filled-in plan for the commonest job (Windows nodes to HA on a UNC share, the second
 * node reached through the Windows service manager),
 * valid as written, for the operator to edit. Never overwrites a file unless asked to.
 */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { InputError } from "../shared/errors.js";
import { errnoOf } from "../shared/errors.js";
import type { PlanInput } from "./schema.js";
import { PLAN_FORMAT_VERSION } from "./schema.js";

/** plans/octoha.schema.json inside the installed package (dist/plan/ → ../../plans). */
const PACKAGED_SCHEMA_FILE = fileURLToPath(new URL("../../plans/octoha.schema.json", import.meta.url));

function planTemplate(schemaRef: string): PlanInput {
  return {
    $schema: schemaRef,
    version: PLAN_FORMAT_VERSION,
    octopus: {
      serverUrl: "https://octopus.example.com",
      apiKey: { env: "OCTOPUS_API_KEY" },
      sql: { connectionString: { env: "OCTOHA_SQL_CONNECTION_STRING" } },
      serverExe: "C:\\Program Files\\Octopus Deploy\\Octopus\\Octopus.Server.exe",
      instance: "OctopusServer",
      platform: "windows",
    },
    nodes: [
      {
        name: "OCTO1",
        url: "https://octo1.example.com",
        folders: {
          taskLogs: { octopus: "C:\\Octopus\\TaskLogs" },
          artifacts: { octopus: "C:\\Octopus\\Artifacts" },
          packages: { octopus: "C:\\Octopus\\Packages" },
          imports: { octopus: "C:\\Octopus\\Imports" },
        },
        // The machine octoha runs on: its own Octopus.Server.exe (octopus.serverExe) stops and starts it.
        control: { kind: "local" },
      },
      {
        name: "OCTO2",
        url: "https://octo2.example.com",
        folders: {
          taskLogs: { octopus: "C:\\Octopus\\TaskLogs", access: "\\\\OCTO2\\c$\\Octopus\\TaskLogs" },
          artifacts: { octopus: "C:\\Octopus\\Artifacts", access: "\\\\OCTO2\\c$\\Octopus\\Artifacts" },
          packages: { octopus: "C:\\Octopus\\Packages", access: "\\\\OCTO2\\c$\\Octopus\\Packages" },
        },
        // Every other node needs a remote recipe: sc (Windows service manager), winrm, ssh (Linux) or argv.
        control: { kind: "sc", host: "OCTO2", service: "OctopusDeploy" },
      },
    ],
    shared: {
      clusterShared: { octopus: "\\\\fs01\\OctopusShared" },
      taskLogs: { octopus: "\\\\fs01\\OctopusShared\\TaskLogs" },
      artifacts: { octopus: "\\\\fs01\\OctopusShared\\Artifacts" },
      packages: { octopus: "\\\\fs01\\OctopusShared\\Packages" },
      imports: { octopus: "\\\\fs01\\OctopusShared\\Imports" },
    },
    options: {
      concurrency: 16,
      drainTimeoutMinutes: 30,
      collisionPolicy: "keep-target",
      approvals: "required",
      onFailure: "stop",
      serviceCommandTimeoutSeconds: 120,
      tools: { sc: "sc.exe", powershell: "powershell.exe", ssh: "ssh" },
    },
  };
}

/** How a plan at `planFile` points at the packaged schema: relative when possible, else a file URL. */
function schemaRefFor(planFile: string, schemaFile: string = PACKAGED_SCHEMA_FILE): string {
  const rel = path.relative(path.dirname(planFile), schemaFile);
  return path.isAbsolute(rel) ? pathToFileURL(schemaFile).href : rel.split(path.sep).join("/");
}

export interface WriteTemplateOptions {
  /** Replace an existing file. */
  force?: boolean;
}

/** Writes the template; refuses (InputError, nothing written) when the file exists and force is off. */
export async function writePlanTemplate(file: string, options: WriteTemplateOptions = {}): Promise<string> {
  const abs = path.resolve(file);
  const text = `${JSON.stringify(planTemplate(schemaRefFor(abs)), null, 2)}\n`;
  try {
    await writeFile(abs, text, { flag: options.force ? "w" : "wx" });
  } catch (error) {
    if (errnoOf(error) === "EEXIST")
      throw new InputError(`${abs} already exists; nothing was written`, {
        code: "INIT_EXISTS",
        path: abs,
        hint: "Choose another file name, or pass --force to replace it.",
      });
    throw new InputError(`Cannot write ${abs}: ${(error as Error).message}`, {
      code: "INIT_UNWRITABLE",
      path: abs,
      cause: error,
      hint: "Check the folder exists and this account may write to it.",
    });
  }
  return abs;
}
