/**
 * What Octopus's documentation says a load balancer must do, with the source of each fact. Every
 * generated configuration carries these as comments, so the file explains itself to whoever reads
 * it at 2 a.m. (The same facts, tagged VERIFIED / INFERRED, are in the README's "Load balancer".)
 */
export const LB_DOCS = "https://octopus.com/docs/installation/load-balancers";
const AUDIT_DOCS = "https://octopus.com/docs/security/users-and-teams/auditing#ip-address-forwarding";
const POLLING_DOCS = "https://octopus.com/docs/administration/high-availability/maintain/polling-tentacles-with-ha";
const WEBSOCKET_DOCS = "https://octopus.com/docs/infrastructure/deployment-targets/tentacle/windows/polling-tentacles-web-sockets";

export interface LbFact {
  text: string;
  source: string;
}

export const LB_FACTS: LbFact[] = [
  {
    text:
      "Health check: GET /api/octopusservernodes/ping answers 200 while the node is online and not draining, 418 while it drains, " +
      "anything else when it is offline or broken. Expecting 200 takes a draining node out of the pool while it finishes its tasks.",
    source: LB_DOCS,
  },
  {
    text: 'Balancing: round-robin, no session affinity: "the Octopus Web Portal is stateless".',
    source: LB_DOCS,
  },
  {
    text:
      "Uploads: packages are POSTed to /api/<space>/packages/raw; Octopus handles 1 GB+ packages and has no request size limit, " +
      "so timeouts are long (minutes) and the body size is not limited here.",
    source: LB_DOCS,
  },
  {
    text:
      "TLS: terminating TLS here and talking HTTP to the nodes is fine for the web portal and API (Octopus's nginx and IIS guides " +
      "do it). Give the nodes --webForceSSL False and redirect to https here: a node that forces SSL answers HTTP requests, " +
      "health checks included, with a redirect.",
    source: `${LB_DOCS} (nginx / IIS reverse proxy pages)`,
  },
  {
    text:
      "Polling Tentacles (port 10943, or WebSockets on /OctopusComms) must reach every node directly, TLS end to end " +
      '("pass through" with no SSL offloading); they do not go through this HTTP frontend.',
    source: `${LB_DOCS}; ${POLLING_DOCS}; ${WEBSOCKET_DOCS}`,
  },
  {
    text:
      "Client IPs: Octopus 2023.1+ records the client address from X-Forwarded-For when this load balancer's address is listed " +
      "in Configuration > Settings > Web Portal > Trusted Proxies (Octopus.Server configure --trustedProxies); otherwise audit " +
      "events show the load balancer's address.",
    source: AUDIT_DOCS,
  },
];
