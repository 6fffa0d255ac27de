/** Human text for `octoha tentacles` (the JSON view is the advice object itself). */
import type { TentacleAdvice } from "./advice.js";
import { TRUSTED_SERVERS_KEY } from "./config.js";

export function renderTentacleAdvice(advice: TentacleAdvice): string {
  const lines: string[] = [];
  if (!advice.needed) {
    lines.push("Polling Tentacles: nothing to do per node.", ...advice.notes.map((n) => `  ${n}`));
    return `${lines.join("\n")}\n`;
  }
  lines.push(`Polling Tentacles must poll every node (${advice.nodes.length}). On each polling Tentacle machine:`, "");
  lines.push(`1. Set ${advice.apiKeyVariable} in the shell (octoha never prints the key), then register with each node:`);
  const present = new Set(advice.trusted?.present.map((p) => p.node));
  for (const n of advice.nodes)
    lines.push(
      `   # ${n.node}: polls ${n.address} (from the plan's ${n.addressFrom})${present.has(n.node) ? "; already in the given Tentacle.config, so this one may be skipped there" : ""}`,
      `   ${n.commandLine}`,
    );
  lines.push("", "2. Restart the Tentacle service; it reads its trusted servers only at start:", `   ${advice.restart.commandLine}`);
  if (advice.trusted) {
    const t = advice.trusted;
    lines.push("", `Tentacle.config ${TRUSTED_SERVERS_KEY} (thumbprint ${t.thumbprint}, subscription ${t.subscriptionId}):`);
    for (const p of t.present) lines.push(`   already there: ${p.node} ${p.address}`);
    if (t.add.length === 0) lines.push("   every node is already trusted; nothing to add.");
    else {
      lines.push(
        `   ${t.add.length} entr${t.add.length === 1 ? "y" : "ies"} to add (poll-server above adds them; for configuration management, the whole value afterwards follows):`,
      );
      for (const e of t.add) lines.push(`   + ${JSON.stringify(e)}`);
      lines.push("", JSON.stringify(t.merged, null, 2).replace(/^/gm, "   "));
    }
  }
  lines.push("", "Notes:", ...advice.notes.map((n) => `  - ${n}`));
  return `${lines.join("\n")}\n`;
}
