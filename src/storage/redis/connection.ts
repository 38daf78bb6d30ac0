import { StorageUnavailableError } from "../../errors";
import { loadDriver } from "../drivers";

// A down Redis must answer within a request's budget, not hang it: fail fast and let the caller 503.
// Connect and command each get a deadline under the 2 s the README promises.
// Each alone is under 2 s; both are generous for a store on the same network (sub-millisecond answers), so
// a busy CPU does not turn a healthy Redis into 503s.
const CONNECT_TIMEOUT_MS = 1_500;
const COMMAND_TIMEOUT_MS = 1_500;

/**
 * How long this isolate remembers that a Redis URL timed out. Without the memory, a request that touches
 * Redis twice (the per-IP "default" limiter, then the /health ping) waits out two deadlines (~3 s) while
 * Redis is silent. Callers that may skip Redis (the limiter's fallback-capable bucket, the health probe)
 * ask recentlyTimedOut() and answer at once; sign-in buckets and store calls still try, so a recovery
 * is seen on the next such call, and any success clears the memory.
 */
const TIMEOUT_MEMORY_MS = 2_000;
/** Redis URL → when the memory of its last timeout ends (ms since epoch). The URL is only a key, never logged. */
const timedOutUntil = new Map<string, number>();

function rememberTimeout(url: string): void {
  timedOutUntil.set(url, Date.now() + TIMEOUT_MEMORY_MS);
}

function recentlyTimedOut(url: string): boolean {
  const until = timedOutUntil.get(url);
  if (until === undefined) return false;
  if (Date.now() < until) return true;
  timedOutUntil.delete(url);
  return false;
}

/** Refusals and auth errors are fast, so only a timeout (the costly failure) is remembered. */
function isTimeout(err: unknown): boolean {
  return (
    (err instanceof StorageUnavailableError && /\(timeout\)$/.test(err.message)) || causeOf(err) === "timeout"
  );
}

/**
 * Rejects with StorageUnavailableError when `work` has not settled after `ms`. Our own timer on top of
 * the driver's: a listener that accepts the TCP connection but never answers (a stopped server, a
 * firewall, the wrong service on that port) would otherwise park the request until the Worker is killed.
 */
function deadline<T>(work: Promise<T>, ms: number, what: string, onTimeout: () => void): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout();
      reject(new StorageUnavailableError(`Redis ${what}: no answer within ${ms} ms (timeout)`));
    }, ms);
  });
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}

// Loaded on first use: D1/KV deployments and every request that needs no Redis skip the driver's
// hundreds of modules.
async function newClient(url: string, connectTimeout: number, commandTimeout: number) {
  const { createClient } = await loadDriver("redis");
  return createClient({
    url,
    commandOptions: { timeout: commandTimeout },
    // No reconnect loop: the client is per request, and a retry belongs to the next request. Commands
    // are refused (not queued) while disconnected, so a dead link cannot park a request.
    socket: { connectTimeout, reconnectStrategy: false },
    disableOfflineQueue: true,
  });
}

/** A short, secret-free reason for the log: the error's code or class, never the URL (it may hold a password). */
function causeOf(err: unknown): string {
  if (!(err instanceof Error)) return "unknown error";
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string") return code === "ECONNREFUSED" ? "connection refused" : code;
  if (/refused/i.test(err.message)) return "connection refused";
  if (/WRONGPASS|NOAUTH|invalid password/i.test(err.message)) return "authentication failed";
  if (/timeout/i.test(err.name + err.message)) return "timeout";
  return err.name;
}

export type RedisClient = Awaited<ReturnType<typeof newClient>>;

export interface RedisOptions {
  connectTimeoutMs?: number;
  commandTimeoutMs?: number;
}

/** One lazily opened Redis connection whose every command has a deadline. */
export interface RedisConnection {
  /**
   * Runs `command` on the connection (opened on first use, replaced when it died), within the command
   * deadline. Any failure is a StorageUnavailableError with a secret-free cause, and drops the link.
   */
  run<T>(what: string, command: (c: RedisClient) => Promise<T>): Promise<T>;
  /** True while this isolate remembers a timeout of this URL (see TIMEOUT_MEMORY_MS): callers may skip Redis. */
  recentlyTimedOut(): boolean;
  close(): Promise<void>;
}

/**
 * The deadlines and failure mapping every Redis user shares (the ephemeral store, the rate limiter), so a
 * dead or silent Redis costs each of them at most a deadline, never a hang. One connection per call of
 * this function (per request), closed by close().
 */
export function redisConnection(url: string, options: RedisOptions = {}): RedisConnection {
  const connectTimeout = options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
  const commandTimeout = options.commandTimeoutMs ?? COMMAND_TIMEOUT_MS;
  let client: RedisClient | null = null;
  let connecting: Promise<RedisClient> | null = null;
  let closed = false;

  const open = async (): Promise<RedisClient> => {
    const c = await newClient(url, connectTimeout, commandTimeout);
    // Without a listener an `error` event is an uncaught exception; failed commands still reject.
    c.on("error", () => {
      if (client === c) client = null;
    });
    try {
      // connect() includes the handshake (AUTH, SELECT), which a silent listener never answers.
      await deadline(c.connect(), connectTimeout, "connect", () => c.destroy());
    } catch (err) {
      c.destroy();
      if (isTimeout(err)) rememberTimeout(url);
      if (err instanceof StorageUnavailableError) throw err;
      throw new StorageUnavailableError(`Redis is unreachable (${causeOf(err)})`, { cause: err });
    }
    if (closed) {
      c.destroy();
      throw new StorageUnavailableError("Redis client is closed");
    }
    client = c;
    return c;
  };

  const connection = (): Promise<RedisClient> => {
    if (closed) return Promise.reject(new StorageUnavailableError("Redis client is closed"));
    // A client killed since its last use (server restart, CLIENT KILL) is replaced, once per call.
    if (client?.isReady) return Promise.resolve(client);
    if (client) {
      client.destroy();
      client = null;
    }
    connecting ??= open().finally(() => {
      connecting = null;
    });
    return connecting;
  };

  const run = async <T>(what: string, command: (c: RedisClient) => Promise<T>): Promise<T> => {
    const c = await connection();
    const drop = (): void => {
      if (client === c) client = null;
      c.destroy();
    };
    try {
      const result = await deadline(command(c), commandTimeout, what, drop);
      timedOutUntil.delete(url);
      return result;
    } catch (err) {
      drop();
      if (isTimeout(err)) rememberTimeout(url);
      if (err instanceof StorageUnavailableError) throw err;
      throw new StorageUnavailableError(`Redis ${what} failed (${causeOf(err)})`, { cause: err });
    }
  };

  return {
    run,
    recentlyTimedOut: () => recentlyTimedOut(url),
    async close() {
      closed = true;
      const pending = connecting;
      const c = client ?? (pending ? await pending.catch(() => null) : null);
      client = null;
      if (!c) return;
      // QUIT politely; a link that is already gone just gets dropped.
      await c.close().catch(() => c.destroy());
    },
  };
}
