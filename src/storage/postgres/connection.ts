import pg from "pg";
import { StorageUnavailableError } from "../../errors";

/**
 * What drizzle's node-postgres driver calls on its client. A structural subset of pg.Client, so a
 * lazily connecting wrapper can stand in for it.
 */
export interface Queryable {
  query(config: pg.QueryConfig, values?: unknown[]): Promise<pg.QueryResult>;
}

// SQLSTATEs that mean "the server or the link is gone", not "your query is wrong": connection exceptions
// (class 08), admin/crash shutdown and "cannot connect now" (57P0x: a restart, pg_terminate_backend),
// and too_many_connections.
const UNAVAILABLE_SQLSTATE = /^(08...|57P0[1-4]|53300)$/;
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);
// pg's and workerd's wording for a dead socket (they carry no error code).
const NETWORK_MESSAGE =
  /connection terminated|not queryable|socket has been closed|network connection lost|connection refused|timeout expired|query read timeout|stream was destroyed|socket hang up|connect(ion)? (failed|timed out)/i;

function isServerError(err: unknown): err is { code: string } {
  return (
    typeof err === "object" &&
    err !== null &&
    "severity" in err &&
    typeof (err as { code?: unknown }).code === "string"
  );
}

/** True when the error says the database cannot be reached (as opposed to a bad query). */
export function isConnectionError(err: unknown): boolean {
  if (isServerError(err)) return UNAVAILABLE_SQLSTATE.test(err.code);
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string" && NETWORK_CODES.has(code)) return true;
  return NETWORK_MESSAGE.test(err.message);
}

/**
 * What went wrong, in words an operator can act on, without secrets: pg's errors never carry the password,
 * and only the host, port and database name of the URL are named.
 */
export function describePostgresFailure(err: unknown, connectionString: string): string {
  let where = "Postgres";
  try {
    const u = new URL(connectionString);
    where = `Postgres at ${u.hostname}:${u.port || "5432"}${u.pathname}`;
  } catch {
    // An unparsable URL is reported by config validation; here only the kind of failure matters.
  }
  const code = typeof err === "object" && err !== null ? (err as { code?: unknown }).code : undefined;
  const message = err instanceof Error ? err.message : String(err);
  let reason: string;
  if (code === "3D000") reason = "database does not exist (create it, then run npm run db:migrate:pg)";
  else if (code === "28P01" || code === "28000") reason = "authentication failed (check user and password)";
  else if (
    code === "ECONNREFUSED" ||
    /connection refused|cannot connect to the specified address/i.test(message)
  )
    reason = "connection refused";
  else if (code === "ENOTFOUND" || code === "EAI_AGAIN") reason = "host not found";
  else if (/timeout|timed out/i.test(message)) reason = "timeout";
  else if (code === "53300") reason = "too many connections";
  else if (typeof code === "string") reason = `error ${code}`;
  else reason = err instanceof Error ? err.name : "unknown error";
  return `${where}: ${reason}`;
}

/**
 * One pg.Client per request (Cloudflare's Hyperdrive advice: Hyperdrive pools on its side, and workerd
 * cannot share a socket between requests). Connects on the first query, so routes that never touch the
 * database open nothing; reconnects once on the next query if the link died (a Postgres restart or a
 * terminated backend), and reports a database it cannot reach as StorageUnavailableError (503).
 */
export class LazyPgClient implements Queryable {
  #client: pg.Client | null = null;
  #connecting: Promise<pg.Client> | null = null;
  #closed = false;
  // While a transaction holds the connection, other callers' statements wait for it to end instead of
  // landing between its BEGIN and COMMIT (the per-request client is shared by concurrent calls).
  #held: Promise<void> | null = null;
  readonly #inFlight = new Set<Promise<unknown>>();

  constructor(
    private readonly connectionString: string,
    // A silent server answers 503 within 2 s (README, issue 20): 1.5 s for the connect, the rest for the
    // request around it. A healthy server, even TLS to another region (3 round trips of ~150 ms), or
    // Hyperdrive (a pooled connection at the edge) connects well inside this.
    private readonly connectTimeoutMs = 1_500,
    // A statement that has not answered by then means a stuck server or link: the request gets a 503
    // instead of hanging until the Worker is cut off. Client-side (pg's query_timeout) rather than the
    // server's statement_timeout, which a pooler such as Hyperdrive may not pass on as a startup option.
    private readonly queryTimeoutMs = 10_000,
  ) {}

  async query(config: pg.QueryConfig, values?: unknown[]): Promise<pg.QueryResult> {
    while (this.#held) await this.#held;
    // Registered in the same tick as the gate check, so exclusive() cannot start before it is counted.
    const sent = this.#send(config, values);
    this.#inFlight.add(sent);
    try {
      return await sent;
    } finally {
      this.#inFlight.delete(sent);
    }
  }

  /**
   * Runs `fn` with the connection to itself: statements already sent finish first, and statements from
   * other callers wait until `fn` settles. For a transaction (BEGIN ... COMMIT sent through the given
   * Queryable); `fn` must not call query() on this client, which would wait for `fn` forever.
   */
  async exclusive<T>(fn: (own: Queryable) => Promise<T>): Promise<T> {
    while (this.#held || this.#inFlight.size > 0) {
      await Promise.allSettled([this.#held, ...this.#inFlight]);
    }
    let release: () => void = () => {};
    this.#held = new Promise((resolve) => {
      release = resolve;
    });
    try {
      return await fn({ query: (config, values) => this.#send(config, values) });
    } finally {
      this.#held = null;
      release();
    }
  }

  async #send(config: pg.QueryConfig, values?: unknown[]): Promise<pg.QueryResult> {
    const client = await this.#connect();
    try {
      return await client.query(config, values);
    } catch (err) {
      if (!isConnectionError(err)) throw err;
      this.#discard(client);
      throw new StorageUnavailableError(
        `${describePostgresFailure(err, this.connectionString)} (during a query)`,
        { cause: err },
      );
    }
  }

  async end(): Promise<void> {
    this.#closed = true;
    const pending = this.#connecting;
    this.#connecting = null;
    const client = this.#client ?? (pending ? await pending.catch(() => null) : null);
    this.#client = null;
    // A client whose socket already died rejects end(); there is nothing left to release then.
    if (client) await client.end().catch(() => {});
  }

  #connect(): Promise<pg.Client> {
    if (this.#closed) return Promise.reject(new StorageUnavailableError("Postgres client is closed"));
    if (this.#client) return Promise.resolve(this.#client);
    this.#connecting ??= this.#open().finally(() => {
      this.#connecting = null;
    });
    return this.#connecting;
  }

  async #open(): Promise<pg.Client> {
    const client = new pg.Client({
      connectionString: this.connectionString,
      connectionTimeoutMillis: this.connectTimeoutMs,
      query_timeout: this.queryTimeoutMs,
    });
    // Without a listener an `error` event is an uncaught exception. pg emits one when the server drops an
    // idle connection, and in workerd also after end() ("This socket has been closed"): both are handled
    // by reconnecting on the next query, so they are only noted here.
    client.on("error", () => {
      this.#discard(client);
    });
    // Our own deadline as well as pg's: in workerd a connect timeout surfaces as "Connection terminated
    // unexpectedly", which would hide the cause from the log.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`connect timeout after ${this.connectTimeoutMs} ms`)),
        this.connectTimeoutMs,
      );
    });
    try {
      await Promise.race([client.connect(), expired]);
    } catch (err) {
      client.end().catch(() => {});
      throw new StorageUnavailableError(describePostgresFailure(err, this.connectionString), {
        cause: err,
      });
    } finally {
      clearTimeout(timer);
    }
    if (this.#closed) {
      await client.end().catch(() => {});
      throw new StorageUnavailableError("Postgres client is closed");
    }
    this.#client = client;
    return client;
  }

  #discard(client: pg.Client): void {
    if (this.#client !== client) return;
    this.#client = null;
    client.end().catch(() => {});
  }
}
