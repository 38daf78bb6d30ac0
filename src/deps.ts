import { gatedHasher, type HashGate, isolateHashGate } from "./auth/hash-gate";
import { type PasswordHasher, scryptHasher } from "./auth/password";
import type { Config } from "./config";
import { createEmailSender, type EmailSender } from "./email";
import type { Env } from "./env";
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
  /** Outbound HTTP (OAuth providers, email APIs); injectable so tests fake only the providers. */
  readonly fetch: typeof fetch;
  now(): Date;
  /** Work that must finish but that the response need not wait for (executionCtx.waitUntil). */
  defer(task: Promise<unknown>, what: string): void;
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

/** Stores are opened lazily, so routes that touch no storage open no connection. */
export class RequestDeps implements Deps {
  #db?: Database;
  #replica?: Database;
  #replicaReads = false;
  #ephemeral?: EphemeralStore;
  #email?: EmailSender;
  #limiter?: RateLimiter;
  readonly fetch: typeof fetch;
  readonly passwords: PasswordHasher;
  readonly hashGate: HashGate;
  readonly pending: Promise<unknown>[] = [];

  constructor(
    readonly config: Config,
    private readonly env: Env,
    private readonly options: AppOptions,
    private readonly waitUntil: ((p: Promise<unknown>) => void) | undefined,
  ) {
    this.fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.hashGate = options.hashGate ?? isolateHashGate;
    this.passwords = options.passwords ?? gatedHasher(scryptHasher, this.hashGate);
  }

  get db(): Database {
    if (this.#replicaReads) {
      this.#replica ??= openDatabase(this.config, this.env, { replicaReads: true });
      return this.#replica;
    }
    return this.primary;
  }

  get primary(): Database {
    this.#db ??= openDatabase(this.config, this.env);
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
        redis: redisWindowCounter,
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
      this.#limiter !== undefined
    );
  }
}
