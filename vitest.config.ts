import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { connect } from "node:net";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

const migrations = await readD1Migrations(fileURLToPath(new URL("./migrations", import.meta.url)));

const baseBindings = {
  ENVIRONMENT: "test",
  SECRET_KEY: "test-secret-key-that-is-at-least-32-bytes-long",
  APP_URL: "https://auth.example.test",
  EMAIL_TRANSPORT: "console",
  // Per-IP limits would make tests interfere (all share one IP); the limit tests turn them on.
  RATE_LIMIT_ENABLED: "false",
  TEST_MIGRATIONS: migrations,
};

// Naming rules, so new test files are picked up by the right project without editing this file:
//   test/**/*.test.ts        every HTTP/feature test: runs on D1+KV and again on Postgres+Redis
//   test/**/*.d1.test.ts     D1/KV-only (e.g. the storage contracts bound to D1 and KV), and files that
//                            do not depend on the backend (pure functions): once is enough
//   test/pg-redis/**         Postgres/Redis-only (their contracts, reconnects, outages)
//   test/browser/**          Node-side: real Chromium against the Worker on a local port (NODE_SIDE below)
const ALL_TESTS = "test/**/*.test.ts";
const D1_ONLY = "test/**/*.d1.test.ts";
const PG_REDIS_ONLY = "test/pg-redis/**";
/** Tests that run in Node, not in workerd: each folder here is one node project below. */
const NODE_SIDE = ["test/browser/**"];

// A database of the tests' own (created by test/pg-redis/global-setup.ts when missing), never "test" or
// another name someone may keep data in: the run empties it.
const LOCAL_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/edge_auth_test";
const LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0";

/** A quick TCP probe, so `npm test` uses local servers when they are up and does not hang when not. */
function reachable(url: string, defaultPort: number): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port || defaultPort) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = "***";
  return u.toString();
}

/** The Postgres/Redis targets, or null (with the reason printed) when the suites cannot run here. */
async function pgRedisTargets(): Promise<{ databaseUrl: string; redisUrl: string } | null> {
  let databaseUrl = process.env.TEST_DATABASE_URL;
  let redisUrl = process.env.TEST_REDIS_URL;
  if (!databaseUrl && (await reachable(LOCAL_DATABASE_URL, 5432))) databaseUrl = LOCAL_DATABASE_URL;
  if (!redisUrl && (await reachable(LOCAL_REDIS_URL, 6379))) redisUrl = LOCAL_REDIS_URL;
  const missing = [
    databaseUrl ? null : "TEST_DATABASE_URL unset (and no Postgres on 127.0.0.1:5432)",
    redisUrl ? null : "TEST_REDIS_URL unset (and no Redis on 127.0.0.1:6379)",
  ].filter((m): m is string => m !== null);
  if (databaseUrl && redisUrl) {
    console.log(`Postgres/Redis suites: ${redact(databaseUrl)} and ${redact(redisUrl)}`);
    return { databaseUrl, redisUrl };
  }
  const reason = `Postgres/Redis suites NOT RUN: ${missing.join("; ")}`;
  // CI sets REQUIRE_PG_REDIS=1: there a missing server is a failure, never a quietly smaller run.
  if (process.env.REQUIRE_PG_REDIS === "1") throw new Error(`${reason} (REQUIRE_PG_REDIS=1)`);
  console.warn(`\n\x1b[43m\x1b[30m WARNING \x1b[0m ${reason}\n`);
  return null;
}

const targets = await pgRedisTargets();

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** Whether the browser journey can run here; when not, says so loudly (and fails where it is required). */
function browserAvailable(): boolean {
  if (existsSync(CHROMIUM)) return true;
  const reason = `Browser tests (test/browser) NOT RUN: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`;
  // CI sets REQUIRE_BROWSER=1 (.ci/run installs chromium): there a missing browser is a failure.
  if (process.env.REQUIRE_BROWSER === "1") throw new Error(`${reason} (REQUIRE_BROWSER=1)`);
  console.warn(`\n\x1b[43m\x1b[30m WARNING \x1b[0m ${reason}\n`);
  return false;
}

/** Names this run's per-file clones of the test database, so teardown drops exactly those. */
function clonePrefix(databaseUrl: string): string {
  const name = decodeURIComponent(new URL(databaseUrl).pathname.slice(1));
  return `${name.slice(0, 40)}_f${Date.now().toString(36)}_`;
}

// pg require()s "pg-cloudflare" in workerd; the pool resolves require() through Vite's SSR environment
// without the "workerd" export condition and gets the package's empty build ("CloudflareSocket is not a
// constructor"). Point it at the workerd build, which is what wrangler's bundler picks when deploying.
const pgCloudflare = join(
  dirname(createRequire(import.meta.url).resolve("pg-cloudflare/package.json")),
  "dist/index.js",
);
const resolve = { alias: { "pg-cloudflare": pgCloudflare } };

const shared = {
  setupFiles: ["./test/setup.ts"],
  testTimeout: 30_000,
  // One workerd per vitest worker, reused file after file, instead of a fresh one per test file (most
  // of the run's setup time). Files stay apart: test/setup.ts empties D1 and KV before each file, the
  // pg-redis setup gives each file its own database, and fake clocks and spies are reset after each test.
  isolate: false,
};

/**
 * Test files running at once, across all projects. Vitest's default (cores - 1) is ONE on a 2-core
 * machine: then the two workerd projects and the browser journey ran one after another and half the
 * machine idled. One per core instead: two workerd runners (each reused file after file), or the browser
 * journey (mostly waiting on its browser and the re-authentication window) next to one of them.
 * `--maxWorkers=N` on the command line still overrides this.
 */
const MAX_WORKERS = Math.max(2, availableParallelism());

export default defineConfig({
  // On the root config: the pool resolves require() with the root Vite server, not the project's.
  resolve,
  test: {
    maxWorkers: MAX_WORKERS,
    projects: [
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: { bindings: baseBindings },
          }),
        ],
        test: { ...shared, name: "workers", include: [ALL_TESTS], exclude: [PG_REDIS_ONLY, ...NODE_SIDE] },
      },
      ...(targets
        ? [
            {
              plugins: [
                cloudflareTest({
                  wrangler: { configPath: "./wrangler.toml" },
                  // No outboundService here: workerd sends TCP connect() through the same outbound
                  // service as fetch(), and a Miniflare outbound function cannot serve CONNECT.
                  miniflare: {
                    bindings: {
                      ...baseBindings,
                      DATABASE_URL: targets.databaseUrl,
                      REDIS_URL: targets.redisUrl,
                      // Bursts of 60 parallel requests each open their own connection while the other
                      // runner and the browser journey load the machine: on a 2-core CI machine some
                      // missed the 1.5 s default and answered 503. The outage tests set it back to 1.5 s.
                      STORAGE_CONNECT_TIMEOUT_MS: "10000",
                    },
                  },
                }),
              ],
              test: {
                ...shared,
                name: "pg-redis",
                include: [ALL_TESTS],
                exclude: [D1_ONLY, ...NODE_SIDE],
                // Then a database per test file, emptied after each test (as the pool does for D1).
                setupFiles: [...shared.setupFiles, "./test/pg-redis/setup.ts"],
                // Node side, before any worker starts: migrate the (possibly fresh) database.
                // and start the servers the outage tests may break (test/pg-redis/fault-servers.ts).
                globalSetup: ["./test/pg-redis/global-setup.ts", "./test/pg-redis/fault-servers.ts"],
                provide: { pgRedis: { ...targets, clonePrefix: clonePrefix(targets.databaseUrl) } },
              },
            },
          ]
        : []),
      ...(browserAvailable()
        ? [
            {
              test: {
                name: "browser",
                include: ["test/browser/**/*.test.ts"],
                environment: "node",
                // One Worker and one Chromium for the whole journey, whose steps run in order in one file.
                // No fileParallelism: false / maxWorkers: 1 here: Vitest would put the project in a group of
                // its own that starts only after both workerd projects are done (about a minute added to
                // every run). With the root's limit, the journey runs first ("browser" sorts before the
                // other projects) next to a workerd runner, and its waits cost the run nothing.
                pool: "forks",
                testTimeout: 60_000,
                hookTimeout: 180_000,
                // A page waits on real password hashing on a shared machine: poll for up to 20 s.
                expect: { poll: { timeout: 20_000, interval: 100 } },
              },
            },
          ]
        : []),
    ],
  },
});
