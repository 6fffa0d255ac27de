/**
 * Builds every Octopus port from a plan: REST for maintenance/nodes/tasks/version, the
 * Octopus.Server executable for folders and services, SQL (read-only) for the inventory.
 * Secrets arrive already read from the environment and registered with the redactor.
 * Lives above octopus/ (not in it) because it reads the plan: octopus/ knows nothing of plans.
 */
import type { Plan } from "../plan/schema.js";
import { CliServerFolders } from "../octopus/cli/index.js";
import { RecipeNodeServices } from "../octopus/control/index.js";
import { controlTools, nodeRecipes } from "../plan/control.js";
import { createRestPorts, OctopusHttpClient, serviceStateViaPing } from "../octopus/rest/index.js";
import { createInventory } from "../octopus/sql/inventory.js";
import type { OctopusPorts, VersionProbe } from "../octopus/types.js";
import { shellWord } from "../shared/shell-word.js";

export interface PortSecrets {
  apiKey: string;
  sqlConnectionString: string;
  /** database.moveTo's connection string (only with a database section). */
  databaseMoveTo?: string;
}

export interface CreatePortsOptions {
  /** Receives warnings an operator should see (e.g. an unencrypted SQL connection). */
  onWarning?: (message: string) => void;
  /**
   * The server version a resumed run journaled at its preflight. Used instead of asking /api: once
   * the services are stopped no node answers, and a resume or rollback must still work then.
   */
  knownVersion?: string;
  /** The run's abort signal: a Ctrl-C aborts the REST request or SQL query in flight. */
  signal?: AbortSignal;
  /** The plan file the operator gave, for commands a hint shows (`octoha check "PLAN FILE"`). */
  planFile?: string;
}

export function createOctopusPorts(plan: Plan, secrets: PortSecrets, options: CreatePortsOptions = {}): OctopusPorts {
  const nodeUrls = Object.fromEntries(plan.nodes.flatMap((n) => (n.url ? [[n.name, n.url] as const] : [])));
  const signal = options.signal ? { signal: options.signal } : {};
  const checkCommand = options.planFile ? { checkCommand: `octoha check ${shellWord(options.planFile)}` } : {};
  const clientOptions = { serverUrl: plan.octopus.serverUrl, apiKey: secrets.apiKey, nodeUrls, ...signal, ...checkCommand };
  const rest = createRestPorts(clientOptions);
  const client = new OctopusHttpClient(clientOptions);
  const command = [plan.octopus.serverExe];
  const knownVersion = options.knownVersion;
  // Children (Octopus.Server.exe, service recipes) never inherit the variables the plan reads secrets from.
  const secretEnv = [
    plan.octopus.apiKey.env,
    plan.octopus.sql.connectionString.env,
    ...(plan.database ? [plan.database.moveTo.env, ...(plan.database.current ? [plan.database.current.env] : [])] : []),
  ];
  const version: VersionProbe = knownVersion ? { serverVersion: () => Promise.resolve(knownVersion) } : rest.version;
  return {
    ...rest,
    version,
    folders: new CliServerFolders({ command, instance: plan.octopus.instance, version: () => version.serverVersion(), secretEnv }),
    services: new RecipeNodeServices({
      recipes: nodeRecipes(plan),
      serverExe: plan.octopus.serverExe,
      instance: plan.octopus.instance,
      tools: controlTools(plan),
      timeoutMs: plan.options.serviceCommandTimeoutSeconds * 1000,
      secretEnv,
      ping: (name) => serviceStateViaPing(client, name),
      ...signal,
    }),
    inventory: createInventory(secrets.sqlConnectionString, {
      envVar: plan.octopus.sql.connectionString.env,
      ...(options.onWarning ? { onWarning: options.onWarning } : {}),
      ...signal,
    }),
    ...(plan.database && secrets.databaseMoveTo
      ? {
          targetDatabase: createInventory(secrets.databaseMoveTo, {
            envVar: plan.database.moveTo.env,
            ...(options.onWarning ? { onWarning: options.onWarning } : {}),
            ...signal,
          }),
        }
      : {}),
  };
}
