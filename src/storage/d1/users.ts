import { and, desc, eq, getTableColumns, gte, lt, sql } from "drizzle-orm";
import type { DrizzleD1Database } from "drizzle-orm/d1";
import { liveCounters } from "../counters";
import { decodeCursor, toPage } from "../cursor";
import type {
  NewUser,
  Page,
  User,
  UserListQuery,
  UserPatch,
  UserRepository,
  UserWithCounters,
} from "../types";
import { selectCounters } from "./accounts";
import { oauthAccounts, users } from "./schema";

type Row = typeof users.$inferSelect & { providers: string | null; hasPasskey: boolean };

const { totpSecretEnc: _s, totpPendingEnc: _p, totpLastStep: _l, ...publicColumns } = getTableColumns(users);

const selection = {
  ...publicColumns,
  totpSecretEnc: users.totpSecretEnc,
  providers: sql<
    string | null
  >`(select group_concat(${oauthAccounts.provider}) from ${oauthAccounts} where ${oauthAccounts.userId} = ${users.id})`,
  // exists() is 0/1 in SQLite and a boolean in Postgres. Names are written out qualified: drizzle renders
  // columns unqualified here, and an unqualified "id" inside the subquery would be the passkey's.
  hasPasskey:
    sql<boolean>`exists (select 1 from "passkeys" as "pk" where "pk"."user_id" = "users"."id")`.mapWith(
      Boolean,
    ),
};

function toUser(row: Omit<Row, "totpPendingEnc" | "totpLastStep">): User {
  return {
    id: row.id,
    email: row.email,
    fullName: row.fullName,
    passwordHash: row.passwordHash,
    role: row.role,
    isActive: row.isActive,
    isVerified: row.isVerified,
    twoFactorEnabled: row.totpSecretEnc !== null,
    oauthProviders: row.providers ? [...new Set(row.providers.split(","))].sort() : [],
    hasPasskey: row.hasPasskey,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

export class D1UserRepository implements UserRepository {
  constructor(private readonly db: DrizzleD1Database) {}

  async create(user: NewUser): Promise<User | null> {
    const rows = await this.db
      .insert(users)
      .values({
        id: user.id,
        email: user.email,
        emailLower: user.email.toLowerCase(),
        fullName: user.fullName,
        passwordHash: user.passwordHash,
        role: user.role,
        isVerified: user.isVerified,
        createdAt: user.now,
        updatedAt: user.now,
      })
      .onConflictDoNothing()
      .returning({ id: users.id });
    return rows.length === 1 ? this.findById(user.id) : null;
  }

  async findById(id: string): Promise<User | null> {
    const row = await this.db.select(selection).from(users).where(eq(users.id, id)).get();
    return row ? toUser(row) : null;
  }

  async findByEmail(email: string): Promise<User | null> {
    const row = await this.db
      .select(selection)
      .from(users)
      .where(eq(users.emailLower, email.toLowerCase()))
      .get();
    return row ? toUser(row) : null;
  }

  async findByEmailWithCounters(
    email: string,
    counterKeys: readonly string[],
    now: Date,
  ): Promise<UserWithCounters> {
    const [rows, counterRows] = await this.db.batch([
      this.db.select(selection).from(users).where(eq(users.emailLower, email.toLowerCase())).limit(1),
      selectCounters(this.db, counterKeys),
    ]);
    const row = rows[0];
    return { user: row ? toUser(row) : null, counters: liveCounters(counterKeys, counterRows, now) };
  }

  async update(id: string, patch: UserPatch, now: Date): Promise<User | null> {
    const rows = await this.db
      .update(users)
      .set({ ...patch, updatedAt: now })
      .where(eq(users.id, id))
      .returning({ id: users.id });
    return rows.length === 1 ? this.findById(id) : null;
  }

  async list(query: UserListQuery): Promise<Page<User>> {
    const conds = [];
    if (query.emailPrefix) {
      // A range instead of LIKE: SQLite only uses an index for LIKE under case_sensitive_like, while
      // this range is served by users_email_lower_uq. Binary comparison makes it an exact prefix test
      // (% and _ are plain characters here); U+10FFFF sorts after every other code point.
      conds.push(
        gte(users.emailLower, query.emailPrefix),
        lt(users.emailLower, `${query.emailPrefix}\u{10FFFF}`),
      );
    }
    if (query.cursor) {
      const c = decodeCursor(query.cursor);
      // Row-value comparison so SQLite seeks users_created_id_idx instead of scanning from the newest row.
      conds.push(sql`(${users.createdAt}, ${users.id}) < (${c.createdAt}, ${c.id})`);
    }
    const rows = await this.db
      .select(selection)
      .from(users)
      .where(and(...conds))
      .orderBy(desc(users.createdAt), desc(users.id))
      .limit(query.limit + 1)
      .all();
    return toPage(rows.map(toUser), query.limit, (u) => ({ createdAt: u.createdAt.getTime(), id: u.id }));
  }
}
