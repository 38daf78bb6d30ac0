/** Worker bindings. String settings are validated by src/config.ts, not read from here. */
export interface Env {
  DB: D1Database;
  KV: KVNamespace;
  ASSETS?: Fetcher;
  HYPERDRIVE?: Hyperdrive;
  SEND_EMAIL?: SendEmail;
  RL_LOGIN?: RateLimit;
  RL_REGISTER?: RateLimit;
  RL_VERIFY?: RateLimit;
  RL_REFRESH?: RateLimit;
  RL_DEFAULT?: RateLimit;
  [setting: string]: unknown;
}
