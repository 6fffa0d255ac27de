/**
 * `octoha lb`: the directives that matter in each generated configuration (no snapshots), each one
 * accepted by the real tool when it is installed (haproxy -c, nginx -t), the plan problems refused
 * with exit 2, and no secret from the environment in any file or output.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { lbConfig } from "../../src/lb/index.js";
import { Plan, type PlanInput } from "../../src/plan/schema.js";
import { cleanEnv, REPO, runCli, withTempDir } from "../helpers/cli.js";
import { errorOf } from "../helpers/envelope.js";

const REPAIR_PLAN = path.join(REPO, "plans", "repair-two-nodes.json");
const API_KEY = "API-LBSECRETKEY0000000000001";
const SQL = "Server=sql01;Database=Octopus;User Id=octoha;Password=Sw0rdfish-LB;";
const env = cleanEnv({ OCTOPUS_API_KEY: API_KEY, OCTOHA_SQL_CONNECTION_STRING: SQL, OCTOPUS_MASTER_KEY: "c2VjcmV0LW1hc3Rlci1rZXk=" });

const tool = (name: string): string | undefined => ["/usr/sbin", "/usr/local/sbin", "/usr/bin"].map((d) => `${d}/${name}`).find(existsSync);
const HAPROXY = tool("haproxy");
const NGINX = tool("nginx");
const OPENSSL = tool("openssl");
if (!HAPROXY) console.warn("lb.test.ts: haproxy -c checks SKIPPED: haproxy is not installed (Debian: apt-get install -y haproxy).");
if (!NGINX) console.warn("lb.test.ts: nginx -t checks SKIPPED: nginx is not installed (Debian: apt-get install -y nginx-light).");

const httpPlan = (): Plan =>
  Plan.parse({
    version: 1,
    octopus: { serverUrl: "http://octopus.corp.local", sql: { connectionString: { env: "OCTOHA_SQL_CONNECTION_STRING" } } },
    nodes: [
      { name: "OCTO1", url: "http://octo1.corp.local:8080/", control: { kind: "sc", host: "octo1.corp.local" } },
      { name: "OCTO 2 (spare)", url: "http://octo2.corp.local:8080/", control: { kind: "sc", host: "octo2.corp.local" } },
    ],
    shared: {
      taskLogs: { octopus: "\\\\fs01\\Octo\\TaskLogs" },
      artifacts: { octopus: "\\\\fs01\\Octo\\Artifacts" },
      packages: { octopus: "\\\\fs01\\Octo\\Packages" },
    },
  } satisfies PlanInput);

/** nginx resolves upstream names when it loads its configuration: nodes on names that resolve here. */
function loopbackPlan(serverUrl: string, scheme: "http" | "https"): PlanInput {
  const plan = JSON.parse(JSON.stringify(httpPlan())) as PlanInput;
  plan.octopus.serverUrl = serverUrl;
  plan.nodes = [
    { name: "OCTO1", url: `${scheme}://127.0.0.1:8080/`, control: { kind: "sc", host: "OCTO1" } },
    { name: "OCTO2", url: `${scheme}://localhost:8081/`, control: { kind: "sc", host: "OCTO2" } },
  ];
  return plan;
}

function haproxyCheck(file: string): { status: number | null; out: string } {
  const r = spawnSync(HAPROXY!, ["-c", "-f", file], { encoding: "utf8" });
  return { status: r.status, out: r.stdout + r.stderr };
}

function nginxCheck(dir: string, file: string): { status: number | null; out: string } {
  const main = path.join(dir, "nginx-main.conf");
  writeFileSync(main, `pid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents {}\nhttp { include ${file}; }\n`);
  const r = spawnSync(NGINX!, ["-t", "-c", main, "-p", dir], { encoding: "utf8" });
  return { status: r.status, out: r.stdout + r.stderr };
}

/** A self-signed certificate: the TLS variants are checked by the real tools too. */
function selfSigned(dir: string): { crt: string; key: string; pem: string } {
  const crt = path.join(dir, "lb.crt");
  const key = path.join(dir, "lb.key");
  const r = spawnSync(
    OPENSSL!,
    ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=octopus.example.com", "-days", "1"].concat([
      "-keyout",
      key,
      "-out",
      crt,
    ]),
  );
  expect(r.status, String(r.stderr)).toBe(0);
  const pem = path.join(dir, "lb.pem");
  writeFileSync(pem, readFileSync(crt, "utf8") + readFileSync(key, "utf8"));
  return { crt, key, pem };
}

describe("octoha lb --format haproxy", () => {
  it("checks each node's ping with GET, expects 200, and balances round-robin without stickiness", () => {
    const { text } = lbConfig(httpPlan(), { format: "haproxy", stats: "127.0.0.1:8404" });
    expect(text).toMatch(/^\s+option httpchk$/m);
    expect(text).toContain("http-check send meth GET uri /api/octopusservernodes/ping ver HTTP/1.1 hdr Host octopus.corp.local");
    expect(text).toMatch(/^\s+http-check expect status 200\b/m);
    expect(text).toMatch(/^\s+default-server check inter 5s fall 2 rise 2 init-addr last,libc,none$/m);
    expect(text).toMatch(/^\s+balance roundrobin\b/m);
    expect(text).not.toMatch(/^\s+(cookie|stick)\b/m);
    expect(text).toMatch(/^\s+server OCTO1 octo1\.corp\.local:8080 +# node OCTO1/m);
    // A node name with spaces and brackets becomes a valid identifier; the comment keeps the real one.
    expect(text).toMatch(/^\s+server OCTO_2__spare_ octo2\.corp\.local:8080 +# node OCTO 2 \(spare\)/m);
    expect(text).toMatch(/^\s+timeout (client|server)\s+5m\b/m);
    expect(text).toMatch(/^\s+timeout tunnel\s+1h\b/m);
    expect(text).toMatch(/^\s+bind :80$/m);
    expect(text).toContain("418");
    expect(text).toContain("https://octopus.com/docs/installation/load-balancers");
  });

  it("refuses --cert-key (exit 2, nothing written): HAProxy reads the certificate and its key from one PEM, and says how to make it", async () => {
    await withTempDir(async (dir) => {
      const cfg = path.join(dir, "haproxy.cfg");
      const args = [
        "lb",
        REPAIR_PLAN,
        "--format",
        "haproxy",
        "--cert",
        "/etc/haproxy/certs/octo.crt",
        "--cert-key",
        "/etc/haproxy/certs/octo.key",
      ];
      const result = await runCli([...args, "--out", cfg], { env });
      expect(result.code, result.stderr).toBe(2);
      expect(existsSync(cfg)).toBe(false);
      expect(result.stderr).toContain(`--cert-key "/etc/haproxy/certs/octo.key": HAProxy takes no separate key file`);
      expect(result.stderr).toContain(
        "cat /etc/haproxy/certs/octo.crt /etc/haproxy/certs/octo.key > /etc/haproxy/certs/octo-with-key.pem && chmod 600 /etc/haproxy/certs/octo-with-key.pem",
      );
      expect(result.stderr).toContain("then run octoha lb again with --cert /etc/haproxy/certs/octo-with-key.pem and without --cert-key");
      const json = await runCli([...args, "--json"], { env });
      expect(json.code).toBe(2);
      expect(errorOf(json.stdout, "lb", 2)).toMatchObject({ code: "LB_CERT_KEY_UNUSED" });
    });
  });

  it("iis-arr refuses --cert and --cert-key (exit 2, nothing written): IIS binds its certificate from its own store, and says how", async () => {
    await withTempDir(async (dir) => {
      const xml = path.join(dir, "octopus-farm.xml");
      const certOnly = await runCli(["lb", REPAIR_PLAN, "--format", "iis-arr", "--cert", "C:\\certs\\octo.pfx", "--out", xml], { env });
      expect(certOnly.code, certOnly.stderr).toBe(2);
      expect(existsSync(xml)).toBe(false);
      expect(certOnly.stderr).toContain("--cert: IIS ARR reads no certificate file");
      expect(certOnly.stderr).toContain("IIS Manager");
      expect(certOnly.stderr).toContain("netsh http add sslcert ipport=0.0.0.0:443 certhash=");
      expect(certOnly.stderr).toContain("then run octoha lb again without --cert");
      const both = ["lb", REPAIR_PLAN, "--format", "iis-arr", "--cert", "octo.crt", "--cert-key", "octo.key"];
      const withKey = await runCli(both, { env });
      expect(withKey.code).toBe(2);
      expect(withKey.stderr).toContain("--cert and --cert-key: IIS ARR reads no certificate file");
      expect(withKey.stderr).toContain("without --cert and --cert-key");
      const keyOnly = await runCli(["lb", REPAIR_PLAN, "--format", "iis-arr", "--cert-key", "octo.key", "--json"], { env });
      expect(keyOnly.code).toBe(2);
      expect(errorOf(keyOnly.stdout, "lb", 2)).toMatchObject({ code: "LB_CERT_UNUSED" });
    });
  });

  it("terminates TLS for an https serverUrl, redirects port 80, and talks TLS to https nodes", async () => {
    const result = await runCli(["lb", REPAIR_PLAN, "--format", "haproxy", "--cert", "/etc/haproxy/certs/octo.pem"], { env });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^\s+bind :443 ssl crt \/etc\/haproxy\/certs\/octo\.pem\b/m);
    expect(result.stdout).toMatch(/^\s+bind :80$/m);
    expect(result.stdout).toContain("http-request redirect scheme https code 301 unless { ssl_fc }");
    expect(result.stdout).toMatch(/^\s+server OCTO1 octo1\.example\.com:443 ssl verify none sni str\(octo1\.example\.com\)/m);
    expect(result.stderr).toContain("Polling Tentacles must reach every node directly");
  });

  it.skipIf(!HAPROXY)("haproxy -c accepts the http and the https configuration", async () => {
    await withTempDir(async (dir) => {
      const plain = path.join(dir, "plain.cfg");
      writeFileSync(plain, lbConfig(httpPlan(), { format: "haproxy", stats: "127.0.0.1:8404" }).text);
      expect(haproxyCheck(plain)).toMatchObject({ status: 0 });
      if (!OPENSSL) return;
      const { pem } = selfSigned(dir);
      const tls = path.join(dir, "tls.cfg");
      const result = await runCli(["lb", REPAIR_PLAN, "--format", "haproxy", "--cert", pem, "--out", tls, "--stats", "none"], { env });
      expect(result.code, result.stderr).toBe(0);
      const checked = haproxyCheck(tls);
      expect(checked.status, checked.out).toBe(0);
    });
  });
});

describe("octoha lb --format nginx", () => {
  it("says it has passive checks only, and sets upload, WebSocket and timeout directives", () => {
    const { text, notes } = lbConfig(httpPlan(), { format: "nginx" });
    const comments = text.replace(/\n#\s+/g, " ");
    expect(comments).toContain("PASSIVE HEALTH CHECKS ONLY");
    expect(comments).toContain("A DRAINING node still answers normal requests with 200, so nginx keeps sending it traffic");
    expect(notes.join("\n")).toContain("passive health checks only");
    expect(text).toMatch(/^\s+server octo1\.corp\.local:8080 max_fails=2 fail_timeout=10s;/m);
    expect(text).not.toMatch(/^\s+health_check\b/m);
    expect(text).toMatch(/^\s+client_max_body_size 0;/m);
    expect(text).toMatch(/^\s+proxy_set_header Upgrade \$http_upgrade;/m);
    expect(text).toMatch(/^\s+proxy_set_header Connection \$octopus_connection_upgrade;/m);
    expect(text).toMatch(/^\s+proxy_read_timeout 300s;/m);
    expect(text).not.toMatch(/^\s+(ip_hash|hash|sticky)\b/m);
  });

  it.skipIf(!NGINX)("nginx -t accepts the http and the https configuration", async () => {
    await withTempDir(async (dir) => {
      const plain = path.join(dir, "plain.conf");
      writeFileSync(
        plain,
        lbConfig(Plan.parse(loopbackPlan("http://octopus.corp.local", "http")), { format: "nginx", bind: "127.0.0.1:18080" }).text,
      );
      const checked = nginxCheck(dir, plain);
      expect(checked.status, checked.out).toBe(0);
      if (!OPENSSL) return;
      const { crt, key } = selfSigned(dir);
      const tls = path.join(dir, "tls.conf");
      const planFile = path.join(dir, "plan.json");
      writeFileSync(planFile, JSON.stringify(loopbackPlan("https://octopus.example.com", "https")));
      const args = ["lb", planFile, "--format", "nginx", "--bind", "127.0.0.1:18443", "--cert", crt, "--cert-key", key, "--out", tls];
      const result = await runCli(args, { env });
      expect(result.code, result.stderr).toBe(0);
      expect(readFileSync(tls, "utf8")).toMatch(/^\s+proxy_pass https:\/\/octopus_nodes;/m);
      const checkedTls = nginxCheck(dir, tls);
      expect(checkedTls.status, checkedTls.out).toBe(0);
    });
  });
});

describe("octoha lb, nodes on IPv6 addresses", () => {
  /** URL.hostname keeps an IPv6 address's brackets: the generators must not add a second pair. */
  const ipv6Plan = (): Plan => {
    const plan = loopbackPlan("http://octopus.corp.local", "http");
    plan.nodes[0]!.url = "http://[::1]:8081/";
    plan.nodes[1]!.url = "http://[fe80::1]:8082/";
    return Plan.parse(plan);
  };

  it("--bind=:8080 (no address) listens on the port alone, as --bind=*:8080 does: nginx rejects `listen :8080;`", () => {
    const text = lbConfig(httpPlan(), { format: "nginx", bind: ":8080" }).text;
    expect(text).toMatch(/^\s+listen 8080;$/m);
    expect(text).not.toMatch(/listen :/);
  });

  it("writes [address]:port on each server line, and haproxy -c and nginx -t accept both servers", async () => {
    const haproxy = lbConfig(ipv6Plan(), { format: "haproxy" }).text;
    expect(haproxy).toMatch(/^\s+server OCTO1 \[::1\]:8081 +# node OCTO1/m);
    expect(haproxy).toMatch(/^\s+server OCTO2 \[fe80::1\]:8082 +# node OCTO2/m);
    const nginx = lbConfig(ipv6Plan(), { format: "nginx", bind: "127.0.0.1:18080" }).text;
    expect(nginx).toMatch(/^\s+server \[::1\]:8081 max_fails=2 fail_timeout=10s;/m);
    expect(nginx).toMatch(/^\s+server \[fe80::1\]:8082 max_fails=2 fail_timeout=10s;/m);
    for (const text of [haproxy, nginx]) expect(text).not.toContain("[[");
    await withTempDir(async (dir) => {
      if (HAPROXY) {
        const file = path.join(dir, "ipv6.cfg");
        writeFileSync(file, haproxy);
        // haproxy -c exits 0 even when it disables a server it cannot resolve: its warnings say so.
        const checked = haproxyCheck(file);
        expect(checked.status, checked.out).toBe(0);
        expect(checked.out).not.toMatch(/could not resolve|disabling server/);
      }
      if (NGINX) {
        const file = path.join(dir, "ipv6.conf");
        writeFileSync(file, nginx);
        const checked = nginxCheck(dir, file);
        expect(checked.status, checked.out).toBe(0);
      }
    });
  });
});

describe("octoha lb --format iis-arr", () => {
  it("writes the server farm with its health test on the ping, no affinity, and the upload limit raised", () => {
    const { text } = lbConfig(httpPlan(), { format: "iis-arr", check: { intervalMs: 10_000 } });
    expect(text).toContain('<webFarm name="octopus.corp.local" enabled="true">');
    expect(text).toContain('<server address="octo1.corp.local" enabled="true">');
    expect(text).toContain('<applicationRequestRouting httpPort="8080" />');
    expect(text).toContain(
      '<healthCheck url="http://octopus.corp.local/api/octopusservernodes/ping" interval="00:00:10" timeout="00:00:05" />',
    );
    expect(text).toContain('<affinity useCookie="false" />');
    expect(text).toContain('<action type="Rewrite" url="http://octopus.corp.local/{R:0}" />');
    expect(text).toContain('<requestLimits maxAllowedContentLength="4294967295" />');
    expect(text).toContain("Acceptable status codes to 200");
    expect(text).toContain("appcmd.exe set config -section:webFarms");
    // An XML comment may not contain "--": the file stays well-formed.
    for (const c of text.match(/<!--([\s\S]*?)-->/g) ?? []) expect(c.slice(4, -3)).not.toContain("--");
  });

  it("writes no appcmd line cmd.exe would change: a url path with '%' (%OS%, a space's %20) is left to IIS Manager and the XML, and said so", () => {
    const plan = JSON.parse(JSON.stringify(httpPlan())) as PlanInput;
    const p = "/Octopus Deploy/%OS%/";
    plan.octopus.serverUrl = `http://octopus.corp.local${p}`;
    plan.nodes = plan.nodes.map((n) => ({ ...n, url: `${n.url!.replace(/\/$/, "")}${p}` }));
    const { text, notes } = lbConfig(Plan.parse(plan), { format: "iis-arr" });
    const url = "http://octopus.corp.local/Octopus%20Deploy/%OS%/api/octopusservernodes/ping";
    // Every line cmd.exe would run: the appcmd commands (and the rem line), each with no % but %windir%'s.
    const start = text.split("\n").indexOf("  appcmd equivalents (elevated cmd.exe):");
    const cmdLines = text.split("\n").slice(start + 1, text.split("\n").indexOf("-->"));
    expect(cmdLines.length).toBeGreaterThan(5);
    for (const line of cmdLines) expect(line.replace(/^ {2}%windir%\\/, "  "), line).not.toContain("%");
    expect(cmdLines.some((l) => l.includes("healthCheck.interval:00:00:05") && !l.includes("healthCheck.url"))).toBe(true);
    expect(cmdLines).toContain(
      "  rem The health test url is not set by these commands: it holds a percent sign, which cmd.exe would expand, setting another url. " +
        "Enter the url of the healthCheck element below in IIS Manager, Server Farms, octopus.corp.local, Health Test, URL.",
    );
    expect(text).toContain(`<healthCheck url="${url}" interval="00:00:05" timeout="00:00:05" />`);
    expect(notes.join("\n")).toContain("The nodes' url path /Octopus%20Deploy/%OS%/ holds '%', which cmd.exe expands as %NAME%");
    // A path without '%' keeps the url in its appcmd line.
    expect(lbConfig(httpPlan(), { format: "iis-arr" }).text).toContain(
      "healthCheck.url:http://octopus.corp.local/api/octopusservernodes/ping",
    );
  });

  it("refuses two nodes on one host (ARR keys farm servers by address) with exit 2", async () => {
    await withTempDir(async (dir) => {
      const plan = JSON.parse(JSON.stringify(httpPlan())) as { nodes: { url: string }[] };
      plan.nodes[1]!.url = "http://octo1.corp.local:8081/";
      const file = path.join(dir, "plan.json");
      writeFileSync(file, JSON.stringify(plan));
      const result = await runCli(["lb", file, "--format", "iis-arr", "--json"], { env });
      expect(result.code).toBe(2);
      expect(errorOf(result.stdout, "lb", 2)).toMatchObject({ code: "LB_ARR_SHARED_ADDRESS" });
    });
  });
});

describe("octoha lb --down", () => {
  it("takes the named node out in every format (any case), and refuses a name the plan does not have", async () => {
    const down = { down: ["octo1"] };
    expect(lbConfig(httpPlan(), { format: "nginx", ...down }).text).toMatch(
      /^\s+server octo1\.corp\.local:8080 max_fails=2 fail_timeout=10s down;/m,
    );
    expect(lbConfig(httpPlan(), { format: "nginx", ...down }).text).toMatch(
      /^\s+server octo2\.corp\.local:8080 max_fails=2 fail_timeout=10s;/m,
    );
    const haproxy = lbConfig(httpPlan(), { format: "haproxy", ...down });
    expect(haproxy.text).toMatch(/^\s+server OCTO1 octo1\.corp\.local:8080 disabled +#/m);
    expect(haproxy.notes.join("\n")).toContain("Marked down");
    expect(lbConfig(httpPlan(), { format: "iis-arr", ...down }).text).toContain('<server address="octo1.corp.local" enabled="false">');
    if (HAPROXY)
      await withTempDir(async (dir) => {
        const file = path.join(dir, "down.cfg");
        writeFileSync(file, haproxy.text);
        expect(haproxyCheck(file)).toMatchObject({ status: 0 });
      });
    const result = await runCli(["lb", REPAIR_PLAN, "--format", "nginx", "--down", "OCTO9", "--json"], { env });
    expect(result.code).toBe(2);
    expect(errorOf(result.stdout, "lb", 2)).toMatchObject({ code: "LB_DOWN_UNKNOWN_NODE", issues: ["the plan's nodes: OCTO1, OCTO2"] });
  });
});

describe("octoha lb, values with spaces, quotes and directive syntax", () => {
  /** A folder name holding every character the formats treat specially, apart from `$` and control characters. */
  const AWKWARD = `my certs "x"; {#} \\t o'brien`;

  it.skipIf(!NGINX || !OPENSSL)("nginx: certificate paths are quoted, and nginx -t loads the files they name", async () => {
    await withTempDir(async (dir) => {
      const { crt, key } = selfSigned(dir);
      const awkward = path.join(dir, AWKWARD);
      mkdirSync(awkward);
      copyFileSync(crt, path.join(awkward, "lb.crt"));
      copyFileSync(key, path.join(awkward, "lb.key"));
      const planFile = path.join(dir, "plan.json");
      writeFileSync(planFile, JSON.stringify(loopbackPlan("https://octopus.example.com", "https")));
      const conf = path.join(dir, "tls.conf");
      const args = ["lb", planFile, "--format", "nginx", "--bind", "127.0.0.1:18443", "--out", conf];
      args.push("--cert", path.join(awkward, "lb.crt"), "--cert-key", path.join(awkward, "lb.key"));
      const result = await runCli(args, { env });
      expect(result.code, result.stderr).toBe(0);
      const checked = nginxCheck(dir, conf);
      expect(checked.status, checked.out).toBe(0);
    });
  });

  it("nginx: a --cert-key that carries a directive stays one quoted value; a '$' is refused (exit 2) naming the option", async () => {
    await withTempDir(async (dir) => {
      const planFile = path.join(dir, "plan.json");
      writeFileSync(planFile, JSON.stringify(loopbackPlan("https://octopus.example.com", "https")));
      const hostile = `${dir}/k.pem; add_header X-Injected yes`;
      const conf = path.join(dir, "hostile.conf");
      const cert = OPENSSL ? ["--cert", selfSigned(dir).crt] : [];
      const result = await runCli(["lb", planFile, "--format", "nginx", ...cert, "--cert-key", hostile, "--out", conf], { env });
      expect(result.code, result.stderr).toBe(0);
      const text = readFileSync(conf, "utf8");
      expect(text).toContain(`    ssl_certificate_key "${hostile}";`);
      expect(text.split("\n").filter((l) => l.includes("add_header"))).toEqual([`    ssl_certificate_key "${hostile}";`]);
      // nginx reads the whole value as the key's file name (and finds no such file): no directive was added.
      if (NGINX && OPENSSL) expect(nginxCheck(dir, conf).out).toContain(`cannot load certificate key "${hostile}"`);
      const dollar = await runCli(["lb", planFile, "--format", "nginx", "--cert-key", "/etc/nginx/$host.key", "--json"], { env });
      expect(dollar.code).toBe(2);
      expect(errorOf(dollar.stdout, "lb", 2)).toMatchObject({ code: "LB_VALUE_UNSAFE" });
      expect(dollar.stderr).toContain(`--cert-key "/etc/nginx/$host.key": contains '$'`);
    });
  });

  it.skipIf(!HAPROXY || !OPENSSL)(
    "haproxy: a certificate path and a node path with quotes and spaces are quoted; haproxy -c accepts them",
    async () => {
      await withTempDir(async (dir) => {
        const { pem } = selfSigned(dir);
        const awkward = path.join(dir, AWKWARD);
        mkdirSync(awkward);
        copyFileSync(pem, path.join(awkward, "lb.pem"));
        const plan = loopbackPlan("https://octopus.example.com/o'brien/", "http");
        for (const n of plan.nodes) n.url = `${n.url!}o'brien/`;
        const planFile = path.join(dir, "plan.json");
        writeFileSync(planFile, JSON.stringify(plan));
        const cfg = path.join(dir, "tls.cfg");
        const args = ["lb", planFile, "--format", "haproxy", "--cert", path.join(awkward, "lb.pem"), "--out", cfg, "--stats", "none"];
        const result = await runCli(args, { env });
        expect(result.code, result.stderr).toBe(0);
        const text = readFileSync(cfg, "utf8");
        expect(text).toContain("http-check send meth GET uri '/o'\\''brien/api/octopusservernodes/ping' ver HTTP/1.1");
        const checked = haproxyCheck(cfg);
        expect(checked.status, checked.out).toBe(0);
      });
    },
  );

  it("refuses (exit 2) a host the formats would write bare, and a --bind or --stats that is not an address, naming it and the character", async () => {
    await withTempDir(async (dir) => {
      const plan = loopbackPlan("http://octopus.corp.local", "http");
      plan.nodes[1]!.url = "http://octo2;evil:8080/";
      const planFile = path.join(dir, "plan.json");
      writeFileSync(planFile, JSON.stringify(plan));
      const host = await runCli(["lb", planFile, "--format", "nginx"], { env });
      expect(host.code).toBe(2);
      expect(host.stderr).toContain(`nodes[1].url's host (OCTO2) "octo2;evil": contains ';'`);
    });
    const bind = await runCli(["lb", REPAIR_PLAN, "--format", "nginx", "--bind", "0.0.0.0 ssl; add_header X yes; listen 0.0.0.0:81"], {
      env,
    });
    expect(bind.code).toBe(2);
    expect(bind.stderr).toContain(`--bind "0.0.0.0 ssl; add_header X yes; listen 0.0.0.0:81": contains ' '`);
    const stats = await runCli(["lb", REPAIR_PLAN, "--format", "haproxy", "--stats", "127.0.0.1\n:8404"], { env });
    expect(stats.code).toBe(2);
    expect(stats.stderr).toContain("--stats \"127.0.0.1\\n:8404\": contains '\\u000a'");
  });
});

describe("octoha lb, the serverUrl's path and the nodes' path", () => {
  it("refuses (exit 2) a serverUrl path the nodes do not listen on, naming both, in every format", async () => {
    await withTempDir(async (dir) => {
      const plan = loopbackPlan("http://lb.corp/", "http");
      for (const n of plan.nodes) n.url = `${n.url!}octopus/`;
      const planFile = path.join(dir, "plan.json");
      writeFileSync(planFile, JSON.stringify(plan));
      for (const format of ["haproxy", "nginx", "iis-arr"]) {
        const out = path.join(dir, `${format}.conf`);
        const result = await runCli(["lb", planFile, "--format", format, "--out", out, "--json"], { env });
        expect(result.code, result.stderr).toBe(2);
        expect(errorOf(result.stdout, "lb", 2)).toMatchObject({
          code: "LB_SERVER_PATH_DIFFERS",
          issues: ["octopus.serverUrl: http://lb.corp/", "OCTO1: http://127.0.0.1:8080/octopus/", "OCTO2: http://localhost:8081/octopus/"],
        });
        expect(result.stderr).toContain("The plan's serverUrl path / is not the nodes' url path /octopus/");
        expect(result.stderr).toContain("serverUrl http://lb.corp/octopus/");
        expect(existsSync(out)).toBe(false);
      }
    });
  });

  it("accepts the same path (any case, with or without its last slash): the ping and the requests are under it", () => {
    const plan = loopbackPlan("http://lb.corp/Octopus", "http");
    for (const n of plan.nodes) n.url = `${n.url!}octopus/`;
    const { text } = lbConfig(Plan.parse(plan), { format: "haproxy" });
    expect(text).toContain("http-check send meth GET uri /octopus/api/octopusservernodes/ping ver HTTP/1.1 hdr Host lb.corp");
  });
});

describe("octoha lb --down of every node", () => {
  it("is refused with exit 2 and no file, in any case of the names, unless --allow-all-down, which says so loudly", async () => {
    await withTempDir(async (dir) => {
      const out = path.join(dir, "all-down.conf");
      const args = ["lb", REPAIR_PLAN, "--format", "nginx", "--down", "OCTO1", "--down", "octo2", "--out", out];
      const refused = await runCli([...args, "--json"], { env });
      expect(refused.code).toBe(2);
      expect(errorOf(refused.stdout, "lb", 2)).toMatchObject({ code: "LB_ALL_NODES_DOWN" });
      expect(refused.stderr).toContain("--down OCTO1, OCTO2: that is every node of the plan");
      expect(refused.stderr).toContain("--allow-all-down");
      expect(existsSync(out)).toBe(false);
      const forced = await runCli([...args, "--allow-all-down"], { env });
      expect(forced.code, forced.stderr).toBe(0);
      expect(forced.stdout).toContain("EVERY NODE IS DOWN (--allow-all-down)");
      expect(readFileSync(out, "utf8").match(/^\s+server .* down;/gm)).toHaveLength(2);
    });
  });
});

describe("octoha lb, bad input and secrets", () => {
  it("refuses a plan whose node has no url, naming it, with exit 2 and no file written", async () => {
    await withTempDir(async (dir) => {
      const plan = JSON.parse(JSON.stringify(httpPlan())) as { nodes: { url?: string }[] };
      delete plan.nodes[1]!.url;
      const file = path.join(dir, "plan.json");
      writeFileSync(file, JSON.stringify(plan));
      const out = path.join(dir, "haproxy.cfg");
      const result = await runCli(["lb", file, "--format", "haproxy", "--out", out], { env });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain("nodes[1].url (OCTO 2 (spare)): not set");
      expect(existsSync(out)).toBe(false);
    });
  });

  it("refuses to replace an existing --out file without --force", async () => {
    await withTempDir(async (dir) => {
      const out = path.join(dir, "haproxy.cfg");
      writeFileSync(out, "# mine\n");
      const result = await runCli(["lb", REPAIR_PLAN, "--format", "haproxy", "--out", out], { env });
      expect(result.code).toBe(2);
      expect(readFileSync(out, "utf8")).toBe("# mine\n");
      expect((await runCli(["lb", REPAIR_PLAN, "--format", "haproxy", "--out", out, "--force"], { env })).code).toBe(0);
      expect(readFileSync(out, "utf8")).toContain("backend octopus_nodes");
    });
  });

  it("puts no secret from the environment in any generated file or output", async () => {
    await withTempDir(async (dir) => {
      for (const format of ["haproxy", "nginx", "iis-arr"]) {
        const out = path.join(dir, `${format}.conf`);
        for (const args of [["--out", out], [], ["--json"]]) {
          const result = await runCli(["lb", REPAIR_PLAN, "--format", format, ...args], { env });
          expect(result.code, result.stderr).toBe(0);
          const texts = [result.stdout, result.stderr, ...(args[0] === "--out" ? [readFileSync(out, "utf8")] : [])];
          expect(texts.join("").length).toBeGreaterThan(500);
          for (const t of texts) {
            for (const secret of [API_KEY, SQL, "Sw0rdfish-LB", "c2VjcmV0LW1hc3Rlci1rZXk="]) expect(t).not.toContain(secret);
          }
        }
      }
    });
  });
});
