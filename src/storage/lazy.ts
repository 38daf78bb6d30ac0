import type { Database } from "./types";

type RepositoryName = Exclude<keyof Database, "kind" | "ping" | "close">;

// A record, not a list: a repository added to Database fails to compile here until it is named.
const REPOSITORY_NAMES: Record<RepositoryName, true> = {
  users: true,
  sessions: true,
  tokens: true,
  audit: true,
  oauthAccounts: true,
  twoFactor: true,
  counters: true,
  passkeys: true,
  passkeyChallenges: true,
  loginThrottle: true,
  accounts: true,
  webhooks: true,
};
const REPOSITORIES = Object.keys(REPOSITORY_NAMES) as RepositoryName[];

/**
 * A Database whose driver loads on its first call. The Postgres side pulls in `pg` and drizzle's
 * node-postgres driver; a static import would evaluate them in every isolate, D1 deployments included,
 * at start-up. Every repository method is already async, so callers cannot tell the difference.
 */
export function lazyDatabase(kind: Database["kind"], load: () => Promise<Database>): Database {
  let loaded: Promise<Database> | undefined;
  const get = (): Promise<Database> => {
    loaded ??= load();
    return loaded;
  };
  const repository = (name: RepositoryName): object =>
    new Proxy(
      {},
      {
        get(_target, method) {
          // Not a thenable, and no symbol lookups forwarded: only named repository methods.
          if (typeof method !== "string" || method === "then") return undefined;
          return async (...args: unknown[]): Promise<unknown> => {
            const repo = (await get())[name] as unknown as Record<string, (...a: unknown[]) => unknown>;
            const fn = repo[method];
            if (typeof fn !== "function") throw new TypeError(`${name}.${method} is not a function`);
            return fn.apply(repo, args);
          };
        },
      },
    );
  const db = Object.fromEntries(REPOSITORIES.map((name) => [name, repository(name)])) as Pick<
    Database,
    RepositoryName
  >;
  return {
    kind,
    ...db,
    ping: async () => (await get()).ping(),
    // Never loaded means never connected: nothing to close, and no reason to load the driver now.
    close: async () => {
      if (loaded) await (await loaded).close();
    },
  };
}
