import { ConfigError } from "../config";

/**
 * The Postgres and Redis drivers, reachable only through this registry. The default entry
 * (`src/index.ts`, D1 and KV) registers none, so its bundle holds neither `pg` nor `redis` (~1.7 MB of
 * the 4.8 MB bundle): esbuild inlines a dynamic `import()` into the one bundle, so a lazy import alone
 * saves their evaluation at start-up but not their bytes, nor V8's parsing of them. Deployments on
 * Postgres or Redis name `src/index.postgres.ts` as `main`, which registers both.
 */
export interface DriverModules {
  postgres(): Promise<typeof import("./postgres")>;
  postgresConnection(): Promise<typeof import("./postgres/connection")>;
  redis(): Promise<typeof import("redis")>;
}

let registered: DriverModules | undefined;

/** Sets the isolate's drivers (undefined: none) and returns the previous ones, so a test can restore them. */
export function registerDrivers(drivers: DriverModules | undefined): DriverModules | undefined {
  const previous = registered;
  registered = drivers;
  return previous;
}

/**
 * DATABASE_URL, HYPERDRIVE or REDIS_URL set on a build without the drivers: a configuration error (500
 * `misconfigured`, the reason in the log, and on the page in development), not a storage outage.
 */
export class MissingDriverError extends ConfigError {
  constructor(what: string) {
    super([
      `${what} is configured, but this Worker was built from src/index.ts (D1 and KV only): set ` +
        `main = "src/index.postgres.ts" in wrangler.toml (README, "Postgres and Redis")`,
    ]);
    this.name = "MissingDriverError";
  }
}

export function loadDriver<K extends keyof DriverModules>(name: K): ReturnType<DriverModules[K]> {
  if (!registered) throw new MissingDriverError(name === "redis" ? "REDIS_URL" : "Postgres");
  return registered[name]() as ReturnType<DriverModules[K]>;
}
