import type { WebhookNudge } from "./events/worker";

/**
 * Worker bindings. The types come from `npm run types` (wrangler types → src/worker-configuration.d.ts,
 * generated from wrangler.toml and the setting names in .dev.vars.example; `npm run typecheck` fails
 * when it is stale). String settings are validated by src/config.ts, not read from here.
 *
 * Everything is optional except DB and KV: the bindings differ per environment and deployment (no rate
 * limit bindings on Node, no ASSETS where wrangler.toml drops [assets]), and a setting may be unset. The generated type says every
 * key is present because wrangler.toml declares them all for local development.
 */
export interface Env extends Partial<Cloudflare.Env> {
  DB: D1Database;
  KV: KVNamespace;
  // Commented out in wrangler.toml until an operator enables them (README "Deploy"), so not generated.
  HYPERDRIVE?: Hyperdrive;
  SEND_EMAIL?: SendEmail;
  /** The webhook queue's producer (README "Webhooks"); its consumer is this Worker's queue() handler. */
  WEBHOOK_QUEUE?: Queue<WebhookNudge>;
  /** Settings that only a deployment or a test sets (validated by src/config.ts). */
  [setting: string]: unknown;
}
