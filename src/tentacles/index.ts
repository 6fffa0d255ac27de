/** `octoha tentacles`: load the plan, read the Tentacle's config, ask about Redis, advise. Reads only. */
import { loadPlan } from "../plan/load.js";
import type { Plan } from "../plan/schema.js";
import { InputError } from "../shared/errors.js";
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
  /** Nodes not in the plan yet (a node being joined): NAME=URL. */
  withNodes?: string[];
  /** For tests: a probe to use instead of the flag/HTTP ones. */
  probe?: MultiNodePollingProbe;
}

export async function adviseTentacles(options: TentaclesOptions): Promise<TentacleAdvice> {
  const plan = withNodes((await loadPlan(options.planFile)).plan, options.withNodes ?? []);
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

/** The plan's nodes plus each NAME=URL given: a node joining the cluster is polled like the others. */
function withNodes(plan: Plan, extra: string[]): Plan {
  const added = extra.map((spec) => {
    const m = /^([^=]+)=(.+)$/.exec(spec);
    let url: URL | undefined;
    try {
      url = m ? new URL(m[2]!) : undefined;
    } catch {
      url = undefined;
    }
    if (!m || !url || !/^https?:$/.test(url.protocol))
      throw new InputError(`--with-node ${spec}: expected NAME=URL, e.g. OCTO3=https://octo3.corp`, { code: "TENTACLE_WITH_NODE_INVALID" });
    const name = m[1]!.trim();
    const existing = plan.nodes.find((n) => n.name.toLowerCase() === name.toLowerCase());
    if (existing)
      throw new InputError(`--with-node ${spec}: the plan already has a node ${existing.name}`, {
        code: "TENTACLE_WITH_NODE_DUPLICATE",
        hint: "Drop --with-node for a node the plan already lists.",
      });
    return { name, url: url.href.replace(/\/$/, ""), folders: {} };
  });
  return added.length === 0 ? plan : { ...plan, nodes: [...plan.nodes, ...added] };
}

export { renderTentacleAdvice } from "./render.js";
export type { TentacleAdvice } from "./advice.js";
