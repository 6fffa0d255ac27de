/**
 * A small Octopus REST client on Node's own fetch.
 *
 * Why not @octopusdeploy/api-client: it brings axios, lodash, glob, adm-zip, form-data, urijs and
 * semver for the seven endpoints octoha calls, and gives us neither per-attempt timeouts, retry
 * classification (5xx / reset → retryable) nor per-node base URLs; its errors can carry request
 * config. Plain fetch (Node 20) with AbortSignal.timeout does all of that in ~200 lines, and the
 * fidelity test proves the official client still works against the same stand-in.
 */
import type { Clock } from "../../shared/clock.js";
import { OctohaError } from "../../shared/errors.js";
import { ExitCode } from "../../shared/exit-codes.js";
import { redactor } from "../../shared/redact.js";
import { retry, RETRY_BUDGETS } from "../../shared/retry.js";
import { OTHER_NODE_ANSWERED } from "../types.js";

export interface OctopusClientOptions {
  /** The load-balanced URL, e.g. https://octopus.example.com */
  serverUrl: string;
  apiKey: string;
  /** Each node's own base URL, by node name (ping, raw logs through one node). */
  nodeUrls?: Record<string, string>;
  /** Per attempt (default 30 s). */
  timeoutMs?: number;
  /** Attempts for retryable failures (default RETRY_BUDGETS.restRequest: 4). */
  attempts?: number;
  /** First backoff delay; doubles each attempt with jitter (default 500 ms). */
  backoffMs?: number;
  /** Backoff sleeps (a fake clock in tests). */
  clock?: Clock;
  fetch?: typeof fetch;
  /**
   * The run's abort signal (Ctrl-C / SIGTERM): aborts the request in flight and cuts a backoff
   * short, so an interrupted run stops at once instead of after every attempt has timed out.
   */
  signal?: AbortSignal;
  /**
   * The command that checks the plan again (`octoha check "my plan.json"`), for the hint of a node URL that
   * another node answered; octopus/ knows no plan file. Without it the hint says to check the plan.
   */
  checkCommand?: string;
}

export interface RequestOptions {
  body?: unknown;
  /** Send to this node's own base URL instead of the load balancer. */
  node?: string;
  /** Answer text instead of JSON. */
  text?: boolean;
  /** Statuses that are answers, not errors (e.g. 418 for ping). */
  accept?: number[];
  /** Retry HTTP 500 (default true). /raw answers 500 for an unreadable log file: not transient. */
  retry500?: boolean;
  attempts?: number;
}

export interface HttpAnswer<T> {
  status: number;
  body: T;
  /** Which node answered (Octopus-Node header), when the server says. */
  answeredBy?: string;
}

/** An error talking to Octopus: names the URL (never the key) and says what to do. */
export class OctopusApiError extends OctohaError {
  constructor(
    summary: string,
    readonly status: number | undefined,
    readonly url: string,
    options: { code: string; behaviour: "retryable" | "fatal" | "continue"; hint: string; node?: string; cause?: unknown },
  ) {
    super(redactor.redact(summary), { ...options, hint: redactor.redact(options.hint) });
  }
}

/**
 * The run was interrupted (Ctrl-C) while a request was in flight or backing off. Not an Octopus
 * failure, so not an OctopusApiError: code that reads any API failure as "offline" must let it pass.
 */
const INTERRUPTED_HINT = "Stopped on request (Ctrl-C or SIGTERM); nothing more was sent. A run says how to resume it.";

export class RequestInterrupted extends OctohaError {
  constructor(summary: string, node?: string) {
    super(summary, { code: "INTERRUPTED", behaviour: "fatal", exitCode: ExitCode.Resumable, node, hint: INTERRUPTED_HINT });
  }
}

const RETRYABLE_STATUS = new Set([500, 502, 503, 504, 429]);

export class OctopusHttpClient {
  readonly serverUrl: string;
  private readonly nodeUrls: Map<string, string>;
  private readonly o: Required<Pick<OctopusClientOptions, "timeoutMs" | "attempts" | "backoffMs">> & OctopusClientOptions;
  private rootDoc: Promise<Record<string, unknown>> | undefined;

  constructor(options: OctopusClientOptions) {
    if (!options.apiKey)
      throw new OctohaError("No Octopus API key was given.", {
        code: "OCTOPUS_API_KEY_MISSING",
        hint: "Set OCTOPUS_API_KEY (or the env var the plan names) to an API key of a user with AdministerSystem.",
      });
    redactor.add(options.apiKey);
    const budget = RETRY_BUDGETS.restRequest;
    this.o = { timeoutMs: 30_000, attempts: budget.attempts, backoffMs: budget.backoff.initialMs, ...options };
    this.serverUrl = options.serverUrl.replace(/\/+$/, "");
    this.nodeUrls = new Map(Object.entries(options.nodeUrls ?? {}).map(([k, v]) => [k.toLowerCase(), v.replace(/\/+$/, "")]));
  }

  /** See OctopusClientOptions.checkCommand. */
  get checkCommand(): string | undefined {
    return this.o.checkCommand;
  }

  nodeUrl(node: string): string {
    const url = this.nodeUrls.get(node.toLowerCase());
    if (!url)
      throw new OctohaError(`No base URL is known for node ${node}.`, {
        code: "OCTOPUS_NODE_URL_MISSING",
        node,
        hint: "Add the node's own URL (bypassing the load balancer) as nodes[].url in the plan, so octoha can ask that node directly.",
      });
    return url;
  }

  /** The /api root document (cached): Version and the Links templates. */
  root(): Promise<Record<string, unknown>> {
    this.rootDoc ??= this.request<Record<string, unknown>>("GET", "/api").then((a) => a.body);
    this.rootDoc.catch(() => (this.rootDoc = undefined));
    return this.rootDoc;
  }

  /** A path from the root document's Links (template part stripped), or the documented default. */
  async link(name: string, fallback: string): Promise<string> {
    const links = (await this.root()).Links as Record<string, string> | undefined;
    const template = links?.[name];
    return template ? template.replace(/\{[^}]*\}/g, "") : fallback;
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<HttpAnswer<T>> {
    const base = options.node ? this.nodeUrl(options.node) : this.serverUrl;
    const url = `${base}${path}`;
    let tries = 0;
    try {
      return await retry(
        async () => {
          tries++;
          if (this.o.signal?.aborted) throw this.interrupted(method, url, options);
          const result = await this.once<T>(method, url, options);
          if (result instanceof OctopusApiError) throw result;
          if (options.node) refuseOtherNode(options.node, url, result.answeredBy, this.o.checkCommand);
          return result;
        },
        {
          attempts: options.attempts ?? this.o.attempts,
          backoff: { ...RETRY_BUDGETS.restRequest.backoff, initialMs: this.o.backoffMs },
          isRetryable: (e) => e instanceof OctopusApiError && e.behaviour === "retryable",
          ...(this.o.signal ? { signal: this.o.signal } : {}),
          ...(this.o.clock ? { clock: this.o.clock } : {}),
        },
      );
    } catch (error) {
      // Aborted during a backoff: retry() rejects with the signal's reason, which says nothing about the request.
      if (this.o.signal?.aborted && error === this.o.signal.reason) throw this.interrupted(method, url, options);
      if (!(error instanceof OctopusApiError) || error.behaviour !== "retryable") throw error;
      throw new OctopusApiError(`${error.message} (gave up after ${tries} attempts)`, error.status, url, {
        code: error.code,
        behaviour: "retryable",
        node: options.node,
        hint: error.hint ?? "",
        cause: error,
      });
    }
  }

  private interrupted(method: string, url: string, options: RequestOptions): RequestInterrupted {
    return new RequestInterrupted(`${method} ${url} was abandoned: octoha was interrupted`, options.node);
  }

  private async once<T>(method: string, url: string, options: RequestOptions): Promise<HttpAnswer<T> | OctopusApiError> {
    const where = options.node ? `node ${options.node} (${url})` : url;
    const timeout = AbortSignal.timeout(this.o.timeoutMs);
    let res: Response;
    try {
      res = await (this.o.fetch ?? fetch)(url, {
        method,
        headers: {
          "X-Octopus-ApiKey": this.o.apiKey,
          Accept: options.text ? "text/plain" : "application/json",
          ...(options.body !== undefined ? { "Content-Type": "application/json" } : {}),
        },
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: this.o.signal ? AbortSignal.any([timeout, this.o.signal]) : timeout,
      });
    } catch (error) {
      if (this.o.signal?.aborted) throw this.interrupted(method, url, options);
      const timedOut = (error as Error).name === "TimeoutError" || (error as Error).name === "AbortError";
      const code = errnoOfFetch(error);
      return new OctopusApiError(
        timedOut
          ? `${method} ${where} timed out after ${this.o.timeoutMs} ms`
          : `${method} ${where} failed: ${code ?? (error as Error).message}`,
        undefined,
        url,
        {
          code: timedOut ? "OCTOPUS_API_TIMEOUT" : "OCTOPUS_API_UNREACHABLE",
          behaviour: "retryable",
          node: options.node,
          hint: timedOut
            ? "Octopus did not answer in time. Check the server's load and the network; raise the timeout if the server is just slow."
            : "The connection failed or was reset. Check that the URL is right, the Octopus service runs and the load balancer/firewall lets this machine through.",
          cause: error,
        },
      );
    }
    let text: string;
    try {
      text = await res.text();
    } catch (error) {
      if (this.o.signal?.aborted) throw this.interrupted(method, url, options);
      return new OctopusApiError(`${method} ${where}: the connection broke while reading the answer`, res.status, url, {
        code: "OCTOPUS_API_UNREACHABLE",
        behaviour: "retryable",
        node: options.node,
        hint: "Transient network failure; retried.",
        cause: error,
      });
    }
    const answeredBy = res.headers.get("octopus-node") ?? undefined;
    if (res.ok || options.accept?.includes(res.status)) {
      if (options.text) return { status: res.status, body: text as T, answeredBy };
      try {
        return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T, answeredBy };
      } catch (error) {
        return new OctopusApiError(`${method} ${where} answered ${res.status} with something that is not JSON`, res.status, url, {
          code: "OCTOPUS_API_BAD_ANSWER",
          behaviour: "fatal",
          node: options.node,
          hint: "Is this URL an Octopus Server? A proxy or login page may be answering instead.",
          cause: error,
        });
      }
    }
    return this.statusError(method, where, url, res.status, text, options);
  }

  private statusError(method: string, where: string, url: string, status: number, text: string, options: RequestOptions): OctopusApiError {
    let message = "";
    try {
      message = String((JSON.parse(text) as { ErrorMessage?: unknown }).ErrorMessage ?? "");
    } catch {
      message = text.slice(0, 200);
    }
    const summary = `${method} ${where} answered HTTP ${status}${message ? `: ${message}` : ""}`;
    const base = { node: options.node };
    if (status === 401)
      return new OctopusApiError(summary, status, url, {
        ...base,
        code: "OCTOPUS_API_UNAUTHORIZED",
        behaviour: "fatal",
        hint: "The API key was refused. Check OCTOPUS_API_KEY (or the env var the plan names) holds a current key of a user with the AdministerSystem permission.",
      });
    if (status === 403)
      return new OctopusApiError(summary, status, url, {
        ...base,
        code: "OCTOPUS_API_FORBIDDEN",
        behaviour: "fatal",
        hint: "The key's user lacks a permission: maintenance mode and server nodes need AdministerSystem. While maintenance mode is on, only such users can change anything.",
      });
    if (status === 404)
      return new OctopusApiError(summary, status, url, {
        ...base,
        code: "OCTOPUS_API_NOT_FOUND",
        behaviour: "fatal",
        hint: "Check the id and the server URL (it must be the Octopus root, not /app or /api). Older Octopus versions lack some endpoints: see reference §2 for when each appeared.",
      });
    if (status === 418)
      return new OctopusApiError(summary, status, url, {
        ...base,
        code: "OCTOPUS_NODE_DRAINING",
        behaviour: "fatal",
        hint: "The node is draining (418): it takes no new tasks. Undrain it in Configuration ➜ Nodes or with octoha's undrain step.",
      });
    if (status >= 500 && RETRYABLE_STATUS.has(status) && (status !== 500 || options.retry500 !== false))
      return new OctopusApiError(summary, status, url, {
        ...base,
        code: "OCTOPUS_API_UNAVAILABLE",
        behaviour: "retryable",
        hint: "The server or the load balancer failed (5xx). It was retried with backoff; if it persists, look at the Octopus server log (Home\\Logs\\OctopusServer.txt) on the node that answered.",
      });
    if (status >= 500)
      return new OctopusApiError(summary, status, url, {
        ...base,
        code: "OCTOPUS_API_SERVER_ERROR",
        behaviour: "fatal",
        hint: "The server failed to answer this request; look at the Octopus server log on the node that answered.",
      });
    return new OctopusApiError(summary, status, url, {
      ...base,
      code: "OCTOPUS_API_REJECTED",
      behaviour: "fatal",
      hint: "Octopus rejected the request; the message above says why.",
    });
  }
}

/**
 * A request sent to one node's own URL must be answered by that node: through a load balancer (or
 * another node's address) octoha would wait for, check and read logs through the wrong one, and say
 * a node is fine that it never reached. `answeredBy` is the Octopus-Node header or the ping's Name;
 * an answer that names no node is taken as it is.
 */
export function refuseOtherNode(node: string, url: string, answeredBy: string | undefined, checkCommand?: string): void {
  if (answeredBy === undefined || answeredBy.trim() === "" || answeredBy.trim().toLowerCase() === node.toLowerCase()) return;
  throw new OctohaError(
    redactor.redact(`Node ${node}'s URL (${url}) was answered by node ${answeredBy.trim()}: it does not reach ${node} itself.`),
    {
      code: OTHER_NODE_ANSWERED,
      behaviour: "fatal",
      node,
      hint: `Give nodes[].url for ${node} as that node's own address (its host name or IP and port, not the load balancer's), then ${checkCommand ? `run \`${checkCommand}\`` : "check the plan again with `octoha check`"}. Through another address octoha would wait for, check and read logs through another node.`,
    },
  );
}

function errnoOfFetch(error: unknown): string | undefined {
  let e: unknown = error;
  for (let i = 0; e && i < 5; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}
