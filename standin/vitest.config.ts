import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Child processes, sockets and real files: give slow 2-core CI machines room.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
  },
});
