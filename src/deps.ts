import { gatedHasher, type HashGate, isolateHashGate } from "./auth/hash-gate";
import { type PasswordHasher, scryptHasher } from "./auth/password";
import type { Config } from "./config";
import { createEmailSender, type EmailSender } from "./email";
import type { Env } from "./env";
import { NUDGE } from "./events/worker";
import { createRateLimiter, type RateLimiter } from "./security/rate-limit";
import { openDatabase, openEphemeral } from "./storage";
import { redisWindowCounter } from "./storage/redis/window-counter";
import type { Database, EphemeralStore } from "./storage/types";

/** What services need; built per request, nothing read from module-level env. */
export interface Deps {
  readonly config: Config;
  /**
   * The relational store. On D1 with D1_READ_REPLICAS, a session that starts on the primary, unless the
   * route declared itself replica-tolerant (`replicaReads`), then one that any replica may serve.
   */
  readonly db: Database;
  /** Always a session that starts on the primary: what a replica miss is checked against. */
  readonly primary: Database;
  /** Declares this request's reads replica-tolerant (read-only routes only; see `replicaReads`). */
  readFromReplica(): void;
  /** True once `readFromReplica` took effect: `db` is then a replica-tolerant D1 session. */
  readonly readsFromReplica: boolean;
  readonly ephemeral: EphemeralStore;
  readonly email: EmailSender;
  readonly limiter: RateLimiter;
  readonly passwords: PasswordHasher;
  /** The isolate's gate around hashing; authenticated reads report themselves to it (requireAuth). */
  readonly hashGate: HashGate;
  /** The Worker's static assets (public/), where the common-password list lives; unset without [assets]. */
  readonly assets: Fetcher | undefined;
  /** Outbound HTTP (OAuth providers, email APIs); injectable so tests fake only the providers. */
  readonly fetch: typeof fetch;
  now(): Date;
  /** Work that must finish but that the response need not wait for (executionCtx.waitUntil). */
  defer(task: Promise<unknown>, what: string): void;
  /** The webhook outbox has work: wake the queue consumer (when bound) after the response. */
  wakeWebhooks(): void;
}

export interface AppOptions {
  email?: EmailSender;
  fetch?: typeof fetch;
  now?: () => Date;
  limiter?: RateLimiter;
  /**
   * Test suites whose subject is not hashing pass a cheap hasher here. Deliberately only reachable
   * from code that builds the app: no binding or config key selects it, so a deployment cannot.
   */
  passwords?: PasswordHasher;
  /**
   * The hash gate (default: the isolate's). The default scrypt hasher runs through it; a hasher passed
   * in `passwords` does not, unless the caller wraps it with gatedHasher (the gate's own tests do).
   */
  hashGate?: HashGate;
}

// Called unbound, as the runtime's fetch must be (an unbound method call would be an "Illegal invocation").
const globalFetch: typeof fetch = (input, init) => fetch(input, init);

/** Stores are opened lazily, so routes that touch no storage open no connection. */
export class RequestDeps implements Deps {
  #db?: Database;
  #replica?: Database;
  #replicaReads = false;
  #ephemeral?: EphemeralStore;
  #email?: EmailSender;
  #limiter?: RateLimiter;
  readonly fetch: typeof fetch;
  #passwords?: PasswordHasher;
  readonly hashGate: HashGate;
  readonly pending: Promise<unknown>[] = [];
  #webhooksDue = false;

  constructor(
    readonly config: Config,
    private readonly env: Env,
    private readonly options: AppOptions,
    private readonly waitUntil: ((p: Promise<unknown>) => void) | undefined,
  ) {
    // Built per request: the defaults are shared or lazy, so a request that hashes nothing allocates nothing here.
    this.fetch = options.fetch ?? globalFetch;
    this.hashGate = options.hashGate ?? isolateHashGate;
    this.#passwords = options.passwords;
  }

  /** Built on first use: it holds this request's waitUntil, and most requests hash nothing. */
  get passwords(): PasswordHasher {
    this.#passwords ??= gatedHasher(scryptHasher, this.hashGate, this.waitUntil);
    return this.#passwords;
  }

  get assets(): Fetcher | undefined {
    return this.env.ASSETS;
  }

  get db(): Database {
    if (this.#replicaReads) {
      // A write through this handle (an audit entry of a read route) still goes to the primary: D1
      // sends every write there whatever the session's constraint, so it keeps its outbox row too.
      this.#replica ??= openDatabase(this.config, this.env, {
        replicaReads: true,
        outbox: { onWrite: () => this.wakeWebhooks() },
      });
      return this.#replica;
    }
    return this.primary;
  }

  get primary(): Database {
    this.#db ??= openDatabase(this.config, this.env, { outbox: { onWrite: () => this.wakeWebhooks() } });
    return this.#db;
  }

  get readsFromReplica(): boolean {
    return this.#replicaReads;
  }

  readFromReplica(): void {
    // Only where a replica exists: elsewhere the primary connection serves every statement.
    const d1 = !this.config.DATABASE_URL && !this.env.HYPERDRIVE;
    this.#replicaReads = d1 && this.config.D1_READ_REPLICAS;
  }

  get ephemeral(): EphemeralStore {
    this.#ephemeral ??= openEphemeral(this.config, this.env);
    return this.#ephemeral;
  }

  get email(): EmailSender {
    this.#email ??= this.options.email ?? createEmailSender(this.config, this.env, this.fetch);
    return this.#email;
  }

  get limiter(): RateLimiter {
    this.#limiter ??=
      this.options.limiter ??
      createRateLimiter(this.config, this.env, {
        counters: () => this.db.counters,
        now: () => this.now(),
        redis: (url) => redisWindowCounter(url, { connectTimeoutMs: this.config.STORAGE_CONNECT_TIMEOUT_MS }),
      });
    return this.#limiter;
  }

  now(): Date {
    return this.options.now ? this.options.now() : new Date();
  }

  defer(task: Promise<unknown>, what: string): void {
    const guarded = task.catch((err: unknown) => {
      // Loud on purpose: a lost audit entry or email is an incident.
      console.error(
        JSON.stringify({ level: "error", msg: `deferred task failed: ${what}`, error: String(err) }),
      );
    });
    this.pending.push(guarded);
    this.waitUntil?.(guarded);
  }

  wakeWebhooks(): void {
    this.#webhooksDue = true;
  }

  /** Closes per-request connections once deferred work is done. */
  async close(): Promise<void> {
    // Deferred work may defer more (a deferred reset request records its audit entry with defer):
    // wait until no task is added, or the connection closes under a write still in flight.
    let settled = 0;
    while (settled < this.pending.length) {
      const batch = this.pending.slice(settled);
      settled = this.pending.length;
      await Promise.all(batch);
    }
    // One wake-up per request, after every write of it (deferred audit entries included) committed.
    if (this.#webhooksDue && this.env.WEBHOOK_QUEUE) {
      await this.env.WEBHOOK_QUEUE.send(NUDGE).catch((err: unknown) => {
        // Nothing is lost: the rows wait in the outbox for the cron.
        console.warn(JSON.stringify({ level: "warn", msg: "webhook queue send failed", error: String(err) }));
      });
    }
    await Promise.all([
      this.#db?.close(),
      this.#replica?.close(),
      this.#ephemeral?.close(),
      this.#limiter?.close?.(),
    ]);
  }

  get opened(): boolean {
    return (
      this.#db !== undefined ||
      this.#replica !== undefined ||
      this.#ephemeral !== undefined ||
      // A limiter that holds nothing (bindings, none, the relational counters through #db) needs no close.
      this.#limiter?.close !== undefined
    );
  }
}
