/**
 * A D1 binding over the real one (Miniflare's, which implements the Sessions API) that records which
 * kind of session each statement went through, and can play a lagging read replica: once `freeze()`d,
 * a statement on a "first-unconstrained" session answers what it answered before the freeze (or no rows,
 * for a read it never made), as a replica that stopped receiving the primary's writes would. Writes
 * always reach the real database, as D1 sends every write to the primary.
 */
export type D1Route = "binding" | "first-primary" | "first-unconstrained";

export interface RecordedStatement {
  via: D1Route;
  sql: string;
}

type Target = D1Database | D1DatabaseSession;

class RecordingStatement {
  constructor(
    readonly real: D1PreparedStatement,
    private readonly sql: string,
    private readonly params: unknown[],
    private readonly owner: RecordingD1,
    private readonly via: D1Route,
  ) {}

  bind(...params: unknown[]): RecordingStatement {
    return new RecordingStatement(this.real.bind(...params), this.sql, params, this.owner, this.via);
  }

  raw<T = unknown[]>(options?: { columnNames?: boolean }): Promise<T[]> {
    return this.owner.read(this.via, `raw ${this.sql}`, this.params, [] as T[], () =>
      this.real.raw<T>(options as { columnNames?: false }),
    );
  }

  all<T = Record<string, unknown>>(): Promise<D1Result<T>> {
    const empty = { results: [], success: true, meta: {} } as unknown as D1Result<T>;
    return this.owner.read(this.via, `all ${this.sql}`, this.params, empty, () => this.real.all<T>());
  }

  first<T = Record<string, unknown>>(column?: string): Promise<T | null> {
    return this.owner.read(this.via, `first ${this.sql}`, this.params, null, () =>
      column === undefined ? this.real.first<T>() : this.real.first<T>(column),
    );
  }

  run<T = Record<string, unknown>>(): Promise<D1Result<T>> {
    return this.real.run<T>();
  }
}

export class RecordingD1 {
  readonly statements: RecordedStatement[] = [];
  /** The constraint of every withSession() call, in order. */
  readonly sessions: string[] = [];
  #frozen = false;
  readonly #replicaView = new Map<string, unknown>();

  constructor(private readonly real: D1Database) {}

  /** What the app gets as env.DB. */
  get binding(): D1Database {
    const target = this.#wrap(this.real, "binding");
    return {
      ...target,
      withSession: (constraint?: string) => {
        this.sessions.push(constraint ?? "(none)");
        const session = this.real.withSession(constraint as D1SessionConstraint);
        return {
          ...this.#wrap(session, constraint as D1Route),
          getBookmark: () => session.getBookmark(),
        } as unknown as D1DatabaseSession;
      },
      exec: (query: string) => this.real.exec(query),
    } as unknown as D1Database;
  }

  /** The replica stops receiving writes: from now on it answers what it answered before. */
  freeze(): void {
    this.#frozen = true;
  }

  /** Which session kinds the recorded statements went through (once each, in first-use order). */
  routes(): D1Route[] {
    return [...new Set(this.statements.map((s) => s.via))];
  }

  clear(): void {
    this.statements.length = 0;
    this.sessions.length = 0;
  }

  async read<T>(via: D1Route, key: string, params: unknown[], empty: T, run: () => Promise<T>): Promise<T> {
    if (via !== "first-unconstrained") return run();
    const k = `${key} ${JSON.stringify(params)}`;
    if (this.#frozen) return (this.#replicaView.has(k) ? this.#replicaView.get(k) : empty) as T;
    const result = await run();
    this.#replicaView.set(k, result);
    return result;
  }

  #wrap(target: Target, via: D1Route) {
    return {
      prepare: (sql: string) => {
        this.statements.push({ via, sql });
        return new RecordingStatement(target.prepare(sql), sql, [], this, via);
      },
      batch: (statements: RecordingStatement[]) => target.batch(statements.map((s) => s.real)),
    };
  }
}
