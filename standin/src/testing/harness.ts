/** Starts an in-process stand-in in a temp dir with a manual clock, for tests. */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { startStandin, type RunningStandin, type StandinOptions } from "../standin.js";

export interface TestStandin extends RunningStandin {
  tmp: string;
}

export async function startTestStandin(options: Partial<StandinOptions> = {}): Promise<TestStandin> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), "octoha-standin-"));
  let standin: RunningStandin;
  try {
    standin = await startStandin({ dataDir: path.join(tmp, "data"), nodes: 2, clock: "manual", sql: false, ...options });
  } catch (error) {
    rmSync(tmp, { recursive: true, force: true }); // a test that expects the refusal gets no close() to call
    throw error;
  }
  return {
    ...standin,
    tmp,
    async close() {
      await standin.close();
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

export function nodeUrls(s: RunningStandin): Record<string, string> {
  return Object.fromEntries(s.nodes.map((n) => [n.name, n.url]));
}
