/**
 * Cross-field plan rules (issue 2): paths, overlaps, duplicates, URLs. Every rule adds issues and
 * carries on, so one `octoha check` lists every problem. Inline secrets are found in the raw JSON
 * (secrets.ts) because they must be caught even where the schema rejects the value.
 */
import type { Plan } from "./schema.js";
import { LABEL_RULE, labelProblem } from "../shared/names.js";
import type { PlanIssue } from "./issues.js";
import { RECIPE_EXAMPLES, usesLocalDefault } from "./control.js";
import { accessPath, nodeLocations, relate, sharedLocations, type PlacedLocation, type PathRelation } from "./locations.js";
import { pathStyle } from "../shared/path-style.js";

export function crossFieldIssues(plan: Plan): PlanIssue[] {
  return [
    ...nodeNameIssues(plan),
    ...urlIssues(plan),
    ...spellingIssues(plan),
    ...kindsSharingAFolder(sharedLocations(plan).filter((l) => l.kind !== "clusterShared")),
    ...plan.nodes.flatMap((_, i) => kindsSharingAFolder(nodeLocations(plan).filter((l) => l.node === i))),
    ...clusterSharedIssues(plan),
    ...targetSourceOverlaps(plan),
    ...nodesSharingAFolder(plan),
    ...kindsWithNowhereToGo(plan),
    ...stateDirIssues(plan),
    ...controlIssues(plan),
    ...databaseMoveIssues(plan),
  ];
}

/** Which recipes can run `Octopus.Server.exe database` where the node runs (sc and ssh only reach the service). */
const DATABASE_RECIPE_FIX =
  'Reach the node with { "kind": "winrm", "host": … } (runs Octopus.Server.exe database there), or { "kind": "argv", …, "serverExe": [...] } ' +
  "(your command that runs the node's Octopus.Server.exe, e.g. docker exec CONTAINER /Octopus/Octopus.Server), or remove database.moveTo.";

/**
 * database.moveTo: a variable of its own (naming the SQL or the current one would move the nodes to the
 * database they use), and every node reachable for `Octopus.Server.exe database` (each keeps its own copy).
 */
function databaseMoveIssues(plan: Plan): PlanIssue[] {
  const move = plan.database;
  if (!move) return [];
  const issues: PlanIssue[] = [];
  const current = move.current ?? plan.octopus.sql.connectionString;
  const currentPath = move.current ? "database.current" : "octopus.sql.connectionString";
  if (move.moveTo.env === current.env)
    issues.push({
      path: "database.moveTo",
      value: move.moveTo,
      message: `names the same environment variable as ${currentPath} (${current.env}): the nodes would be "moved" to the database they use now`,
      fix: 'Put the restored database\'s connection string in a variable of its own and name it here, e.g. { "env": "OCTOHA_NEW_SQL_CONNECTION_STRING" }.',
    });
  plan.nodes.forEach((n, i) => {
    const kind = n.control?.kind ?? (n.service ? "argv" : "local");
    const why =
      kind === "sc"
        ? "the sc recipe reaches only the Windows service manager"
        : kind === "ssh"
          ? "the ssh recipe runs only systemctl on the node"
          : kind === "argv" && !(n.control?.kind === "argv" && n.control.serverExe)
            ? "its argv recipe has no serverExe command"
            : undefined;
    if (why)
      issues.push({
        path: n.control?.kind === "argv" ? `nodes[${i}].control.serverExe` : `nodes[${i}].control`,
        message: `database.moveTo needs \`Octopus.Server.exe database --connectionString\` run on node ${n.name}, and ${why}`,
        fix: DATABASE_RECIPE_FIX,
      });
  });
  return issues;
}

/**
 * Octopus.Server.exe manages only the instances of the machine it runs on: on a cluster, the local
 * default would stop this machine once per node and never the others. So every node of a multi-node
 * plan names its recipe, and `local` (this machine) fits one node at most.
 */
function controlIssues(plan: Plan): PlanIssue[] {
  const issues: PlanIssue[] = [];
  const recipes = `Give it one of:\n${RECIPE_EXAMPLES.map((r) => `  "control": ${r}`).join("\n")}`;
  let localAt: number | undefined;
  plan.nodes.forEach((n, i) => {
    if (n.control && n.service)
      issues.push({
        path: `nodes[${i}].service`,
        message: "both control and the deprecated service commands are set",
        fix: 'Keep control only (service is read as { "kind": "argv", … }).',
      });
    if (plan.nodes.length > 1 && usesLocalDefault(n))
      issues.push({
        path: `nodes[${i}].control`,
        message: `no control recipe for node ${n.name}: the default runs Octopus.Server.exe on this machine, which manages only this machine's instances, so on a ${plan.nodes.length}-node cluster it would stop this machine ${plan.nodes.length} times and never reach the others`,
        fix: recipes,
      });
    if (plan.nodes.length > 1 && n.service && !n.control && (!n.service.stop || !n.service.start))
      issues.push({
        path: `nodes[${i}].service.${n.service.stop ? "start" : "stop"}`,
        message: `missing: node ${n.name} would fall back to Octopus.Server.exe on this machine for it`,
        fix: 'Use control: { "kind": "argv", "stop": […], "start": […] } with both commands, or another recipe.',
      });
    if (n.control?.kind !== "local") return;
    if (localAt === undefined) localAt = i;
    else
      issues.push({
        path: `nodes[${i}].control`,
        value: n.control,
        message: `"local" is already used by nodes[${localAt}] (${plan.nodes[localAt]!.name}): it means the machine octoha runs on, which is one node`,
        fix: recipes,
      });
  });
  return issues;
}

function nodeNameIssues(plan: Plan): PlanIssue[] {
  const issues: PlanIssue[] = [];
  const seen = new Map<string, number>();
  plan.nodes.forEach((n, i) => {
    const problem = labelProblem(n.name);
    if (problem) {
      const message = `${problem}; a node's name becomes a folder name (its quarantine folder and its copy manifest)`;
      issues.push({
        path: `nodes[${i}].name`,
        value: n.name,
        message,
        fix: `Use the node's name as Configuration ➜ Nodes shows it: ${LABEL_RULE}.`,
      });
    }
    const key = n.name.trim().toLowerCase();
    const first = seen.get(key);
    if (first !== undefined)
      issues.push({
        path: `nodes[${i}].name`,
        value: n.name,
        message: `duplicate node name (also nodes[${first}].name); Octopus node names are case-insensitive`,
        fix: "List each node once, with its name from Configuration ➜ Nodes.",
      });
    else seen.set(key, i);
  });
  return issues;
}

/** An absolute URL with a host and one of these protocols ("https:"…). */
function isUrlOf(value: string, protocols: readonly string[]): boolean {
  try {
    const u = new URL(value);
    return protocols.includes(u.protocol) && u.hostname !== "";
  } catch {
    return false;
  }
}

/** The rule for every node URL: `octoha check` applies it to the plan's, `octoha join --url` to its option. */
export const isHttpUrl = (value: string): boolean => isUrlOf(value, ["http:", "https:"]);
/** https:// or wss://, with no port or a port from 1 (new URL() takes :0, which no Tentacle can reach). */
const isPollingAddress = (value: string): boolean => isUrlOf(value, ["https:", "wss:"]) && new URL(value).port !== "0";

function urlIssues(plan: Plan): PlanIssue[] {
  const issues: PlanIssue[] = [];
  if (!isHttpUrl(plan.octopus.serverUrl))
    issues.push({
      path: "octopus.serverUrl",
      value: plan.octopus.serverUrl,
      message: "not an http(s) URL",
      fix: "Use the load-balanced Octopus address, e.g. https://octopus.example.com.",
    });
  const seenUrl = new Map<string, number>();
  const seenPolling = new Map<string, number>();
  plan.nodes.forEach((n, i) => {
    if (n.url !== undefined) {
      if (!isHttpUrl(n.url))
        issues.push({
          path: `nodes[${i}].url`,
          value: n.url,
          message: "not an http(s) URL",
          fix: "Use this node's own web address, bypassing the load balancer, e.g. https://octo1.example.com.",
        });
      else {
        const key = new URL(n.url).origin.toLowerCase();
        const first = seenUrl.get(key);
        if (first !== undefined)
          issues.push({
            path: `nodes[${i}].url`,
            value: n.url,
            message: `same address as nodes[${first}].url, so checks through this node would really reach the other one`,
            fix: "Give each node its own address, not the load balancer's.",
          });
        else if (plan.nodes.length > 1 && isHttpUrl(plan.octopus.serverUrl) && key === new URL(plan.octopus.serverUrl).origin.toLowerCase())
          issues.push({
            path: `nodes[${i}].url`,
            value: n.url,
            message: "the load balancer's address (octopus.serverUrl), so checks through this node would reach whichever node answers",
            fix: "Use this node's own address, e.g. https://octo1.example.com, or leave url out.",
          });
        else seenUrl.set(key, i);
      }
    }
    if (n.pollingAddress === undefined) return;
    const polling = n.pollingAddress.replace(/\/+$/, "").toLowerCase();
    if (!isPollingAddress(n.pollingAddress))
      issues.push({
        path: `nodes[${i}].pollingAddress`,
        value: n.pollingAddress,
        message: "not an https:// or wss:// address with a port from 1 to 65535 (or none)",
        fix: "Use https://<node host>:10943 (the node's comms port), or wss://<node host>/OctopusComms for WebSocket polling.",
      });
    else if (seenPolling.has(polling))
      issues.push({
        path: `nodes[${i}].pollingAddress`,
        value: n.pollingAddress,
        message: `same as nodes[${seenPolling.get(polling)}].pollingAddress: a polling Tentacle must reach every node at its own address (or port)`,
        fix: "Give each node a unique address, or the same address with a unique port that the load balancer forwards to that node.",
      });
    else seenPolling.set(polling, i);
  });
  return issues;
}

/** Characters Windows forbids in path segments (the drive colon aside). */
const WINDOWS_FORBIDDEN = /[<>"|?*]|(?<!^[A-Za-z]):/;

function allLocations(plan: Plan): PlacedLocation[] {
  return [...sharedLocations(plan), ...nodeLocations(plan)];
}

function spellingIssues(plan: Plan): PlanIssue[] {
  const issues: PlanIssue[] = [];
  const platform = plan.octopus.platform;
  for (const { where, loc } of allLocations(plan)) {
    for (const [field, value] of [
      ["octopus", loc.octopus],
      ["access", loc.access],
    ] as const) {
      if (value === undefined) continue;
      const at = `${where}.${field}`;
      if (value !== value.trim()) {
        issues.push({
          path: at,
          value,
          message: "leading or trailing spaces",
          fix: "Remove the spaces; Octopus would create a folder whose name ends in a space.",
        });
        continue;
      }
      const style = pathStyle(value);
      if (style === "relative" && /^[\\/]{2}/.test(value)) {
        issues.push({
          path: at,
          value,
          message: "a UNC path needs a server and a share (\\\\server\\share\\folder); device paths (\\\\?\\, \\\\.\\) are not accepted",
          fix: 'Write \\\\server\\share\\Folder (in JSON: "\\\\\\\\server\\\\share\\\\Folder").',
        });
        continue;
      }
      if (style === "relative") {
        issues.push({
          path: at,
          value,
          message: "relative path: it would resolve differently on each node and in each working directory",
          fix:
            field === "octopus"
              ? platform === "windows"
                ? "Use a full path: C:\\Octopus\\TaskLogs or \\\\server\\share\\TaskLogs."
                : "Use the full path inside the container, e.g. /taskLogs."
              : "Use a full path as this process reaches the folder, e.g. /mnt/octoshared/TaskLogs or \\\\fs01\\OctopusShared\\TaskLogs.",
        });
        continue;
      }
      if (field === "octopus" && platform === "windows" && style === "posix")
        issues.push({
          path: at,
          value,
          message: 'a Linux path, but octopus.platform is "windows"',
          fix: 'Write the path as the Windows nodes see it (C:\\… or \\\\server\\share\\…) and put this Linux spelling under "access"; or set octopus.platform to "linux" for Linux containers.',
        });
      else if (field === "octopus" && platform === "linux" && style === "windows")
        issues.push({
          path: at,
          value,
          message: 'a Windows path, but octopus.platform is "linux"',
          fix: 'Write the path as the container sees it (/taskLogs, /repository…); set octopus.platform to "windows" if the nodes are Windows servers.',
        });
      else if (style === "windows" && WINDOWS_FORBIDDEN.test(value.replace(/^[\\/]{2}/, "")))
        issues.push({
          path: at,
          value,
          message: 'contains a character Windows does not allow in a path (< > " | ? * or a colon after the drive)',
          fix: "Correct the path; in JSON a backslash is written \\\\.",
        });
    }
  }
  return issues;
}

/** The places two locations coincide: by access spelling, or by octopus spelling when both are seen from one machine. */
function overlap(
  a: PlacedLocation,
  b: PlacedLocation,
  compareOctopus: boolean,
): { relation: Exclude<PathRelation, "apart">; spelling: "access" | "octopus" } | undefined {
  const byAccess = relate(accessPath(a.loc), accessPath(b.loc));
  // Without an access spelling, the octopus one is what this process uses: name the field the operator wrote.
  if (byAccess !== "apart") return { relation: byAccess, spelling: a.loc.access === undefined ? "octopus" : "access" };
  if (!compareOctopus) return undefined;
  const byOctopus = relate(a.loc.octopus, b.loc.octopus);
  return byOctopus === "apart" ? undefined : { relation: byOctopus, spelling: "octopus" };
}

function describeRelation(relation: Exclude<PathRelation, "apart">, other: string): string {
  return relation === "same" ? `is the same folder as ${other}` : relation === "inside" ? `is inside ${other}` : `contains ${other}`;
}

/** Two kinds in one place (both shared, or both of one node): their files would mix. */
function kindsSharingAFolder(locs: PlacedLocation[]): PlanIssue[] {
  const issues: PlanIssue[] = [];
  locs.forEach((b, j) => {
    for (const a of locs.slice(0, j)) {
      const o = overlap(b, a, true);
      if (o)
        issues.push({
          path: `${b.where}.${o.spelling}`,
          value: b.loc[o.spelling] ?? accessPath(b.loc),
          message: `${describeRelation(o.relation, `${a.where} (${a.kind})`)}: task logs, artifacts and packages each need their own folder`,
          fix: "Give each kind its own folder, side by side: …\\TaskLogs, …\\Artifacts, …\\Packages.",
        });
    }
  });
  return issues;
}

function clusterSharedIssues(plan: Plan): PlanIssue[] {
  const root = plan.shared.clusterShared;
  if (!root) return [];
  const issues: PlanIssue[] = [];
  const rootPlaced: PlacedLocation = { where: "shared.clusterShared", kind: "clusterShared", node: undefined, loc: root };
  for (const child of sharedLocations(plan).filter((l) => l.kind !== "clusterShared")) {
    const o = overlap(rootPlaced, child, true);
    if (o && o.relation !== "contains")
      issues.push({
        path: `shared.clusterShared.${o.spelling}`,
        value: root[o.spelling] ?? accessPath(root),
        message: `${describeRelation(o.relation, child.where)}; clusterShared is the parent of the shared folders, not one of them`,
        fix: `Point clusterShared at the share root (e.g. \\\\fs01\\OctopusShared) and ${child.where} at a folder under it (…\\${child.kind.charAt(0).toUpperCase()}${child.kind.slice(1)}).`,
      });
  }
  return issues;
}

/**
 * Shared targets against every node's current folders. Octopus spellings are compared too on
 * Windows (a node and the shared path seen from that node); in Linux containers the octopus
 * spelling is a mount point that stays the same while the volume behind it moves.
 */
function targetSourceOverlaps(plan: Plan): PlanIssue[] {
  const issues: PlanIssue[] = [];
  const compareOctopus = plan.octopus.platform === "windows";
  for (const source of nodeLocations(plan)) {
    for (const target of sharedLocations(plan)) {
      const o = overlap(source, target, compareOctopus);
      // A node folder elsewhere on the share (\\fs01\OctopusShared\OCTO1\TaskLogs) may sit under clusterShared.
      if (!o || (target.kind === "clusterShared" && o.relation === "inside")) continue;
      const node = plan.nodes[source.node ?? 0]?.name ?? "?";
      if (o.relation === "same")
        issues.push({
          path: `${source.where}.${o.spelling}`,
          value: source.loc[o.spelling] ?? accessPath(source.loc),
          message: `node ${node}'s current ${source.kind} folder is ${target.where} itself: there is nothing to copy and copying onto itself would be unsafe`,
          fix: compareOctopus
            ? `If ${node} already writes to shared storage, leave ${source.where} out; otherwise correct one of the two paths.`
            : `In a Linux container the mount point stays the same: give ${source.where} and ${target.where} each an "access" spelling (the host folder behind the volume, e.g. /srv/octopus/node1/taskLogs and /mnt/octoshared/taskLogs).`,
        });
      else
        issues.push({
          path: `${source.where}.${o.spelling}`,
          value: source.loc[o.spelling] ?? accessPath(source.loc),
          message:
            o.relation === "inside"
              ? `source inside a target: node ${node}'s ${source.kind} folder is inside ${target.where}, so the copy would copy into itself`
              : `target inside a source: ${target.where} is inside node ${node}'s ${source.kind} folder, so the copy would copy into itself`,
          fix: "Keep shared storage and node-local folders apart: shared folders on the file share, node folders on the node.",
        });
    }
  }
  return issues;
}

/** Two nodes whose folders this process reaches at the same place (e.g. both C:\Octopus\TaskLogs without an access spelling). */
function nodesSharingAFolder(plan: Plan): PlanIssue[] {
  const issues: PlanIssue[] = [];
  const locs = nodeLocations(plan);
  locs.forEach((b, j) => {
    for (const a of locs.slice(0, j)) {
      if (a.node === b.node) continue;
      const relation = relate(accessPath(b.loc), accessPath(a.loc));
      if (relation === "apart") continue;
      issues.push({
        path: `${b.where}.${b.loc.access === undefined ? "octopus" : "access"}`,
        value: accessPath(b.loc),
        message: `this process would read node ${plan.nodes[b.node ?? 0]?.name}'s folder at the same place as ${a.where} (${describeRelation(relation, a.where)})`,
        fix: `Give each node's folder an "access" spelling this machine can reach, e.g. \\\\${plan.nodes[b.node ?? 0]?.name ?? "NODE"}\\c$\\Octopus\\TaskLogs.`,
      });
      break;
    }
  });
  return issues;
}

function kindsWithNowhereToGo(plan: Plan): PlanIssue[] {
  return nodeLocations(plan)
    .filter((l) => l.kind !== "clusterShared" && plan.shared[l.kind] === undefined)
    .map((l) => ({
      path: l.where,
      value: l.loc.octopus,
      message: `node folder for ${l.kind} is set but shared.${l.kind} is not, so there is nowhere to copy it`,
      fix: `Add shared.${l.kind} (the folder on shared storage), or leave ${l.where} out if this Octopus version has no ${l.kind}.`,
    }));
}

/** The state directory must not sit inside a folder octoha copies from or to. */
function stateDirIssues(plan: Plan): PlanIssue[] {
  const dir = plan.options.stateDir;
  if (dir === undefined || pathStyle(dir) === "relative") return [];
  const hit = allLocations(plan).find((l) => l.kind !== "clusterShared" && ["same", "inside"].includes(relate(dir, accessPath(l.loc))));
  return hit
    ? [
        {
          path: "options.stateDir",
          value: dir,
          message: `inside ${hit.where}, so journals and locks would be copied as ${hit.kind}`,
          fix: "Put the state directory beside the data, not in it: e.g. a .octoha folder in the share root.",
        },
      ]
    : [];
}
