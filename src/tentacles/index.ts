/** `octoha tentacles`: load the plan, read the Tentacle's config, ask about Redis, advise. Reads only. */
import { loadPlan } from "../plan/load.js";
import { tentacleAdvice, type Shell, type TentacleAdvice } from "./advice.js";
import { readTrustedServers } from "./config.js";
import { flagProbe, httpRedisProbe, type MultiNodePollingProbe } from "./redis-probe.js";

export interface TentaclesOptions {
  planFile: string;
  tentacleConfig?: string;
  thumbprint?: string;
  /** The operator says Redis multi-node polling is on. */
  redisEnabled?: boolean;
  /** Ask the server (GET /api/serverstatus/redis). */
  probeRedis?: boolean;
  shell: Shell;
  instance: string;
  tentacleExe?: string;
  /** For tests: a probe to use instead of the flag/HTTP ones. */
  probe?: MultiNodePollingProbe;
}

export async function adviseTentacles(options: TentaclesOptions): Promise<TentacleAdvice> {
  const { plan } = await loadPlan(options.planFile);
  const trusted = options.tentacleConfig ? await readTrustedServers(options.tentacleConfig) : undefined;
  const probe =
    options.probe ??
    (options.redisEnabled ? flagProbe(true) : options.probeRedis ? httpRedisProbe(plan.octopus.serverUrl) : flagProbe(undefined));
  return tentacleAdvice(plan, {
    shell: options.shell,
    instance: options.instance,
    tentacleExe: options.tentacleExe,
    trusted,
    thumbprint: options.thumbprint,
    redis: await probe.status(),
  });
}

export { renderTentacleAdvice } from "./render.js";
export type { TentacleAdvice } from "./advice.js";
