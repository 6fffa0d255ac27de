/**
 * Is Redis multi-node polling on (Octopus 2026.4.6909+)? Then polling Tentacles poll the load
 * balancer once and need no per-node entries (reference/octopus.md §5, D-MNPT). Behind an
 * interface so `octoha tentacles` can take the operator's word (--redis-enabled) or ask the
 * server (--probe-redis: GET /api/serverstatus/redis, which needs no API key).
 */
export interface RedisPollingStatus {
  /** undefined: not checked or could not be read. */
  enabled: boolean | undefined;
  configured?: boolean;
  reachable?: boolean;
  source: "flag" | "api" | "not-checked";
  /** Why the answer is what it is, for the operator. */
  note?: string;
}

export interface MultiNodePollingProbe {
  status(): Promise<RedisPollingStatus>;
}

/** The operator's answer from the command line, or "not checked". */
export function flagProbe(enabled: boolean | undefined): MultiNodePollingProbe {
  return {
    async status() {
      return enabled === undefined ? { enabled: undefined, source: "not-checked" } : { enabled, source: "flag" };
    },
  };
}

export interface HttpProbeOptions {
  timeoutMs?: number;
  fetchImpl?: typeof fetch;
}

/** Asks the server; a failure is reported as unknown (with the reason), never thrown. */
export function httpRedisProbe(serverUrl: string, options: HttpProbeOptions = {}): MultiNodePollingProbe {
  const fetchImpl = options.fetchImpl ?? fetch;
  return {
    async status() {
      const url = new URL("api/serverstatus/redis", serverUrl.endsWith("/") ? serverUrl : `${serverUrl}/`).href;
      try {
        const res = await fetchImpl(url, {
          signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
          headers: { accept: "application/json" },
        });
        if (res.status === 404)
          return {
            enabled: false,
            source: "api",
            note: `${url} answered 404: this Octopus version has no multi-node polling (it arrived in 2026.4.6909)`,
          };
        if (!res.ok) return { enabled: undefined, source: "api", note: `${url} answered HTTP ${res.status}` };
        const body = (await res.json()) as { IsEnabled?: unknown; IsConfigured?: unknown; IsReachable?: unknown };
        return {
          enabled: body.IsEnabled === true,
          configured: typeof body.IsConfigured === "boolean" ? body.IsConfigured : undefined,
          reachable: typeof body.IsReachable === "boolean" ? body.IsReachable : undefined,
          source: "api",
        };
      } catch (error) {
        return {
          enabled: undefined,
          source: "api",
          note: `could not read ${url}: ${error instanceof Error ? error.message : String(error)}`,
        };
      }
    },
  };
}
