/**
 * Reads a Tentacle's trusted Octopus Servers from its Tentacle.config (reference/octopus.md §5):
 * XML `<octopus-settings><set key="Tentacle.Communication.TrustedOctopusServers">JSON array</set>`.
 * Only that one setting is read, so a small scanner does instead of an XML library.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { InputError } from "../shared/errors.js";

export const TRUSTED_SERVERS_KEY = "Tentacle.Communication.TrustedOctopusServers";

/** One entry as Tentacle serialises it; unknown fields are kept so a merged list loses nothing. */
export interface TrustedServer {
  Thumbprint: string;
  /** 2 (TentacleActive) = polling; Tentacle writes an int and reads an int or the enum name. */
  CommunicationStyle: number | string;
  Address?: string | null;
  Squid?: string | null;
  SubscriptionId?: string | null;
  [field: string]: unknown;
}

export function isPolling(entry: TrustedServer): boolean {
  return entry.CommunicationStyle === 2 || entry.CommunicationStyle === "2" || entry.CommunicationStyle === "TentacleActive";
}

const ENTITIES: Record<string, string> = { quot: '"', amp: "&", lt: "<", gt: ">", apos: "'" };

function decodeXmlText(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, name: string) => {
    if (name.startsWith("#x") || name.startsWith("#X")) return String.fromCodePoint(parseInt(name.slice(2), 16));
    if (name.startsWith("#")) return String.fromCodePoint(parseInt(name.slice(1), 10));
    return ENTITIES[name.toLowerCase()] ?? whole;
  });
}

/** The trusted servers in a Tentacle.config's text; [] when the setting is absent or empty. */
export function parseTrustedServers(xml: string, source = "Tentacle.config"): TrustedServer[] {
  const pattern = new RegExp(`<set\\s+key\\s*=\\s*(["'])${TRUSTED_SERVERS_KEY.replace(/\./g, "\\.")}\\1\\s*(/>|>([\\s\\S]*?)</set>)`, "i");
  const match = pattern.exec(xml);
  if (!match) {
    if (!/<octopus-settings[\s>]/i.test(xml))
      throw new InputError(`${source} is not a Tentacle configuration file (no <octopus-settings> element)`, {
        code: "TENTACLE_CONFIG_INVALID",
        path: source,
        hint: "Pass the Tentacle instance's config, by default C:\\Octopus\\Tentacle\\Tentacle.config (Linux: /etc/octopus/<instance>/tentacle-<instance>.config).",
      });
    return [];
  }
  const body = decodeXmlText(match[3] ?? "").trim();
  if (body === "") return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (error) {
    throw new InputError(`${source}: the ${TRUSTED_SERVERS_KEY} setting is not a JSON array: ${(error as Error).message}`, {
      code: "TENTACLE_CONFIG_INVALID",
      path: source,
      hint: "Restore the file from a backup, or re-register the Tentacle.",
    });
  }
  if (
    !Array.isArray(parsed) ||
    !parsed.every((e) => e && typeof e === "object" && typeof (e as { Thumbprint?: unknown }).Thumbprint === "string")
  )
    throw new InputError(`${source}: the ${TRUSTED_SERVERS_KEY} setting is not an array of entries with a Thumbprint`, {
      code: "TENTACLE_CONFIG_INVALID",
      path: source,
      hint: "Restore the file from a backup, or re-register the Tentacle.",
    });
  return parsed as TrustedServer[];
}

export async function readTrustedServers(file: string): Promise<TrustedServer[]> {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = await readFile(abs, "utf8");
  } catch (error) {
    throw new InputError(`Cannot read Tentacle config ${abs}`, {
      code: "TENTACLE_CONFIG_UNREADABLE",
      path: abs,
      cause: error,
      hint: "Check the path; on the Tentacle machine `Tentacle.exe show-configuration` names the file.",
    });
  }
  return parseTrustedServers(text.replace(/^\uFEFF/, ""), abs);
}
