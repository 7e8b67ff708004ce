import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { TEST_SECRET } from "./tests/test-secret.ts";

export default defineConfig({
  test: {
    projects: [
      {
        // The relay itself, inside workerd, through the real Worker entry point.
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            // FUZZ_SEED replays tests/worker/fuzz.test.ts with another seed: FUZZ_SEED=1234 npx vitest run ...
            miniflare: { bindings: { RELAY_SECRET: TEST_SECRET, FUZZ_SEED: process.env.FUZZ_SEED ?? "" } },
          }),
        ],
        test: {
          name: "worker",
          include: ["tests/worker/**/*.test.ts"],
          testTimeout: 30_000,
          // expect.poll waits for a condition; its default 1 s is a speed assumption a busy
          // two-core machine breaks. A generous bound still fails a real hang.
          expect: { poll: { timeout: 30_000 } },
        },
      },
      {
        // Everything that needs real processes: the bridge, tmux, `npm start` (wrangler dev).
        test: {
          name: "node",
          environment: "node",
          include: ["tests/unit/**/*.test.ts", "tests/bridge/**/*.test.ts", "tests/e2e/**/*.test.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // Owns the relay that e2e files share (tests/helpers/shared-relay.ts); starts it only if asked.
          globalSetup: ["./tests/helpers/shared-relay-setup.ts"],
          // expect.poll waits for a condition; its default 1 s is a speed assumption a busy
          // two-core machine breaks. A generous bound still fails a real hang.
          expect: { poll: { timeout: 30_000 } },
          // Tmux servers, browsers and relays: two cores cannot run many at once.
          maxWorkers: 2,
        },
      },
    ],
  },
});
