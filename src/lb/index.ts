/** `octoha lb`: a load balancer configuration for the plan's nodes. Reads the plan only; reaches nothing. */
import type { Plan } from "../plan/schema.js";
import { InputError } from "../shared/errors.js";
import { DEFAULT_HAPROXY_CERT, haproxyConfig } from "./haproxy.js";
import { arrConfig, cmdSafe } from "./iis-arr.js";
import { nginxConfig } from "./nginx.js";
import { lbTarget, type HealthCheck, type LbTarget } from "./target.js";

export const LB_FORMATS = ["haproxy", "nginx", "iis-arr"] as const;
export type LbFormat = (typeof LB_FORMATS)[number];

export interface LbOptions {
  format: LbFormat;
  /** Frontend ADDRESS:PORT; default from the plan's serverUrl. */
  bind?: string;
  /** Nodes to take out of the pool (nginx's only way to drain one). */
  down?: string[];
  /** --allow-all-down: every node may be taken out. */
  allowAllDown?: boolean;
  check?: Partial<HealthCheck>;
  /** HAProxy stats listener ADDRESS:PORT (HAProxy only). */
  stats?: string;
  /** TLS certificate (HAProxy: PEM with the key; nginx: the certificate chain). */
  cert?: string;
  /** nginx: the certificate's key. */
  certKey?: string;
}

export interface LbConfig {
  format: LbFormat;
  text: string;
  target: LbTarget;
  /** What the operator must know that the file cannot enforce. */
  notes: string[];
}

/**
 * HAProxy's `bind … ssl crt` reads the certificate and its key from one PEM: a separate --cert-key would be
 * left out of the file, and HAProxy then fails to start on a certificate without its key. Refused (exit 2),
 * saying how to make that one PEM.
 */
function refuseHaproxyCertKey(options: LbOptions): void {
  if (options.format !== "haproxy" || options.certKey === undefined) return;
  // A new file beside the certificate, never the certificate or key itself: `cat a b > a` would empty it.
  const pem = options.cert ? `${options.cert.replace(/\.[^./\\]*$/, "")}-with-key.pem` : DEFAULT_HAPROXY_CERT;
  // One word of a POSIX shell, for the command shown.
  const q = (arg: string) => (/^[A-Za-z0-9_/.:=@%+,-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`);
  throw new InputError(
    `--cert-key ${JSON.stringify(options.certKey)}: HAProxy takes no separate key file (\`bind … ssl crt\` reads the certificate and its key from the one PEM given with --cert); nothing was written`,
    {
      code: "LB_CERT_KEY_UNUSED",
      hint:
        `Put the certificate (then its chain) and the key into one PEM, readable by HAProxy only: ` +
        `\`cat ${q(options.cert ?? "<certificate.pem>")} ${q(options.certKey)} > ${q(pem)} && chmod 600 ${q(pem)}\`; ` +
        `then run octoha lb again with --cert ${q(pem)} and without --cert-key (--cert-key is for --format nginx).`,
    },
  );
}

/**
 * IIS binds a site's certificate from the Windows certificate store (its https binding), never from a file:
 * the farm XML and appcmd lines have no place for --cert or --cert-key, so either would be silently dropped.
 * Refused (exit 2), saying what an IIS admin does instead.
 */
function refuseIisCertFiles(options: LbOptions, target: LbTarget): void {
  if (options.format !== "iis-arr") return;
  const given = [...(options.cert !== undefined ? ["--cert"] : []), ...(options.certKey !== undefined ? ["--cert-key"] : [])];
  if (given.length === 0) return;
  const named = given.join(" and ");
  const port = target.tls ? (target.bind.split(":").pop() ?? "443") : "443";
  throw new InputError(
    `${named}: IIS ARR reads no certificate file (IIS binds a site's certificate from the Windows certificate store); nothing was written`,
    {
      code: "LB_CERT_UNUSED",
      hint:
        `On the IIS server, import the certificate with its private key (a .pfx) into Local Computer > Personal, then bind it to the ARR site's https binding on port ${port}: ` +
        `IIS Manager > Sites > the site > Bindings > https > SSL certificate, or elevated: ` +
        `netsh http add sslcert ipport=0.0.0.0:${port} certhash=<certificate thumbprint> appid={4dc3e181-e14b-4a21-b022-59fc669b0914}\n` +
        `then run octoha lb again without ${named}.`,
    },
  );
}

export function lbConfig(plan: Plan, options: LbOptions): LbConfig {
  refuseHaproxyCertKey(options);
  const target = lbTarget(plan, { bind: options.bind, down: options.down, allowAllDown: options.allowAllDown, check: options.check });
  refuseIisCertFiles(options, target);
  const c = target.check;
  const notes: string[] = [];
  let text: string;
  switch (options.format) {
    case "haproxy":
      text = haproxyConfig(target, { stats: options.stats, cert: options.cert });
      notes.push(`Active checks: a draining or stopped node leaves the pool after ${c.fall} failed checks ${c.intervalMs} ms apart.`);
      break;
    case "nginx":
      text = nginxConfig(target, { cert: options.cert, certKey: options.certKey });
      notes.push(
        "nginx open source has passive health checks only: a draining node (ping 418) is NOT taken out. Drain it with --down NODE (its server line gets `down`) and reload nginx.",
      );
      break;
    case "iis-arr":
      text = arrConfig(target);
      notes.push("Set the farm's Health Test 'Acceptable status codes' to 200 in IIS Manager so that a draining node (418) is taken out.");
      if (!cmdSafe(target.pingPath))
        notes.push(
          `The nodes' url path ${target.pingPath.replace(/api\/octopusservernodes\/ping$/, "")} holds '%', which cmd.exe expands as %NAME%: the appcmd commands leave out the health test url; enter it in IIS Manager (Health Test > URL) or merge the file's healthCheck element.`,
        );
      break;
  }
  const down = target.backends.filter((b) => b.down).map((b) => b.node);
  if (down.length > 0) notes.push(`Marked down (no traffic until you generate and load the file without --down): ${down.join(", ")}.`);
  if (down.length > 0 && down.length === target.backends.length)
    notes.push("EVERY NODE IS DOWN (--allow-all-down): this file sends no request to any node; every client gets an error.");
  if (target.tls) notes.push(`TLS is terminated at the load balancer for ${target.hostname}: install its certificate where the file says.`);
  notes.push("Polling Tentacles must reach every node directly (octoha tentacles); they do not go through this load balancer.");
  return { format: options.format, text, target, notes };
}

export { lbTarget, DEFAULT_CHECK, PING_PATH, type LbTarget, type LbBackend, type HealthCheck } from "./target.js";
