import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Integration tests drive the real engine against this machine's cron and files: one file at a time.
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 300_000,
    globalSetup: ["test/globalSetup.ts"],
    reporters: ["default"],
  },
});
