import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const standin = (file: string) => fileURLToPath(new URL(`./standin/src/${file}`, import.meta.url));

export default defineConfig({
  // Tests run the stand-in from its source, as they run octoha's; child CLIs load its dist like an install would.
  resolve: {
    alias: [
      { find: /^@octoha\/standin\/testing$/, replacement: standin("testing/index.ts") },
      { find: /^@octoha\/standin$/, replacement: standin("index.ts") },
    ],
  },
  test: {
    include: ["test/**/*.test.ts", "standin/test/**/*.test.ts"],
    // Child processes, sockets and real files: give slow 2-core CI machines room.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Vitest's default on 2 cores is one worker, but most e2e time is spent waiting on child processes,
    // sockets and timers: 3 workers took the suite from ~1140 s of test time to 428 s of wall time.
    maxWorkers: 3,
    // Each worker runs file after file without a fresh process and module graph per file: ~0.2 s of CPU
    // less per file (suite: 418 → 377 s of CPU). The tests share no mocks, fake timers or env changes they
    // do not undo, and src keeps no state between runs (checksWith, not a check registry, for that reason).
    isolate: false,
  },
});
