import { and, desc, eq, getTableColumns, sql } from "drizzle-orm";
import { decodeCursor, toPage } from "../cursor";
import type {
  NewUser,
  Page,
  SessionLiveness,
  User,
  UserListQuery,
  UserPatch,
  UserRepository,
} from "../types";
import type { Dialect } from "./dialect";

interface UserRow {
  id: string;
  email: string;
  fullName: string | null;
  username: string | null;
  passwordHash: string | null;
  role: User["role"];
  isActive: boolean;
  isVerified: boolean;
  totpSecretEnc: string | null;
  providers: string | null;
  sessionsRevokedAt: Date | null;
  hasPasskey: boolean;
  createdAt: Date;
  updatedAt: Date;
}

function toUser(row: UserRow): User {
  return {
    id: row.id,
    email: row.email,
    fullName: row.fullName,
    username: row.username,
    passwordHash: row.passwordHash,
    role: row.role,
    isActive: row.isActive,
    isVerified: row.isVerified,
    twoFactorEnabled: row.totpSecretEnc !== null,
    oauthProviders: row.providers ? [...new Set(row.providers.split(","))].sort() : [],
    sessionsRevokedAt: row.sessionsRevokedAt,
    hasPasskey: row.hasPasskey,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

export class SqlUserRepository implements UserRepository {
  readonly #selection;
  readonly #liveness;

  constructor(private readonly d: Dialect) {
    const { users, oauthAccounts } = d.t;
    // The TOTP secrets stay in the row: only "is one set" leaves this repository.
    const {
      totpPendingEnc: _p,
      totpLastStep: _l,
      usernameLower: _u,
      emailLower: _e,
      ...columns
    } = getTableColumns(users);
    const { sessions } = d.t;
    this.#liveness = {
      id: sessions.id,
      userId: sessions.userId,
      expiresAt: sessions.expiresAt,
      revokedAt: sessions.revokedAt,
      authenticatedAt: sessions.authenticatedAt,
    };
    this.#selection = {
      ...columns,
      // Correlated subquery rather than a join + group by: one row per user whatever the number of links.
      providers: sql<
        string | null
      >`(select ${d.joinedText(oauthAccounts.provider)} from ${oauthAccounts} where ${oauthAccounts.userId} = ${users.id})`,
      // exists() is 0/1 in SQLite and a boolean in Postgres. Names are written out qualified: drizzle renders
      // columns unqualified here, and an unqualified "id" inside the subquery would be the passkey's.
      hasPasskey:
        sql<boolean>`exists (select 1 from "passkeys" as "pk" where "pk"."user_id" = "users"."id")`.mapWith(
          Boolean,
        ),
    };
  }

  #select() {
    return this.d.db.select(this.#selection).from(this.d.t.users);
  }

  async create(user: NewUser): Promise<User | null> {
    const { users } = this.d.t;
    const rows = await this.d.db
      .insert(users)
      .values({
        id: user.id,
        email: user.email,
        emailLower: user.email.toLowerCase(),
        fullName: user.fullName,
        username: user.username ?? null,
        usernameLower: user.username ? user.username.toLowerCase() : null,
        passwordHash: user.passwordHash,
        role: user.role,
        isVerified: user.isVerified,
        createdAt: user.now,
        updatedAt: user.now,
      })
      // The unique indexes on email_lower and username_lower decide a race between two sign-ups.
      .onConflictDoNothing()
      .returning({ id: users.id });
    return rows.length === 1 ? this.findById(user.id) : null;
  }

  async findById(id: string): Promise<User | null> {
    const [row] = await this.#select().where(eq(this.d.t.users.id, id)).limit(1);
    return row ? toUser(row) : null;
  }

  #byEmail(email: string) {
    return this.#select().where(eq(this.d.t.users.emailLower, email.toLowerCase())).limit(1);
  }

  async findByEmail(email: string): Promise<User | null> {
    const [row] = await this.#byEmail(email);
    return row ? toUser(row) : null;
  }

  async findByUsername(username: string): Promise<User | null> {
    const { users } = this.d.t;
    const [row] = await this.#select().where(eq(users.usernameLower, username.toLowerCase())).limit(1);
    return row ? toUser(row) : null;
  }

  async findBySession(sessionId: string): Promise<{ user: User; session: SessionLiveness } | null> {
    const { sessions, users } = this.d.t;
    // One statement: the session decides revocation and expiry, the account its state, in the same read.
    const [row] = await this.d.db
      .select({ ...this.#selection, session: this.#liveness })
      .from(sessions)
      .innerJoin(users, eq(users.id, sessions.userId))
      .where(eq(sessions.id, sessionId))
      .limit(1);
    if (!row) return null;
    const { session, ...user } = row;
    return { user: toUser(user), session };
  }

  async update(id: string, patch: UserPatch, now: Date): Promise<User | null> {
    const { users } = this.d.t;
    const rows = await this.d.db
      .update(users)
      .set({ ...patch, updatedAt: now })
      .where(eq(users.id, id))
      .returning({ id: users.id });
    return rows.length === 1 ? this.findById(id) : null;
  }

  async markVerified(id: string, promote: boolean, now: Date): Promise<User | null> {
    const { users } = this.d.t;
    const rows = await this.d.db
      .update(users)
      .set({ isVerified: true, ...(promote ? { role: "admin" as const } : {}), updatedAt: now })
      .where(and(eq(users.id, id), eq(users.isVerified, false)))
      .returning({ id: users.id });
    return rows.length === 1 ? this.findById(id) : null;
  }

  async list(query: UserListQuery): Promise<Page<User>> {
    const { users } = this.d.t;
    const conds = [];
    if (query.emailPrefix) conds.push(this.d.startsWith(users.emailLower, query.emailPrefix));
    if (query.cursor) conds.push(this.d.before(users.createdAt, users.id, decodeCursor(query.cursor)));
    const rows = await this.#select()
      .where(and(...conds))
      .orderBy(desc(users.createdAt), desc(this.d.byteOrder(users.id)))
      .limit(query.limit + 1);
    return toPage(rows.map(toUser), query.limit, (u) => ({ createdAt: u.createdAt.getTime(), id: u.id }));
  }
}
