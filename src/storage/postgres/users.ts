import { and, desc, eq, getTableColumns, like, lt, or, type SQL, sql } from "drizzle-orm";
import type { NodePgDatabase } from "drizzle-orm/node-postgres";
import type { AnyPgColumn } from "drizzle-orm/pg-core";
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

const { totpSecretEnc: _s, totpPendingEnc: _p, totpLastStep: _l, ...publicColumns } = getTableColumns(users);

const selection = {
  ...publicColumns,
  totpSecretEnc: users.totpSecretEnc,
  // Correlated subquery rather than a join + group by: one row per user whatever the number of links.
  providers: sql<
    string | null
  >`(select string_agg(${oauthAccounts.provider}, ',' order by ${oauthAccounts.provider}) from ${oauthAccounts} where ${oauthAccounts.userId} = ${users.id})`,
  // exists() is 0/1 in SQLite and a boolean in Postgres. Names are written out qualified: drizzle renders
  // columns unqualified here, and an unqualified "id" inside the subquery would be the passkey's.
  hasPasskey:
    sql<boolean>`exists (select 1 from "passkeys" as "pk" where "pk"."user_id" = "users"."id")`.mapWith(
      Boolean,
    ),
};

type Row = Omit<typeof users.$inferSelect, "totpPendingEnc" | "totpLastStep"> & {
  providers: string | null;
  hasPasskey: boolean;
};

function toUser(row: Row): User {
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

/**
 * Ids compare bytewise, as in SQLite, whatever the database's default collation; the ORDER BY and the
 * cursor condition must use the same order or a page boundary skips or repeats rows.
 */
export function byteOrder(column: AnyPgColumn): SQL {
  return sql`${column} collate "C"`;
}

/** The user's text is matched literally: `%` and `_` in a search are not wildcards. */
function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (c) => `\\${c}`);
}

export class PgUserRepository implements UserRepository {
  constructor(private readonly db: NodePgDatabase) {}

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
      // The unique index on email_lower decides a race between two sign-ups with the same address.
      .onConflictDoNothing()
      .returning({ id: users.id });
    return rows.length === 1 ? this.findById(user.id) : null;
  }

  async findById(id: string): Promise<User | null> {
    const [row] = await this.db.select(selection).from(users).where(eq(users.id, id)).limit(1);
    return row ? toUser(row) : null;
  }

  async findByEmail(email: string): Promise<User | null> {
    const [row] = await this.db
      .select(selection)
      .from(users)
      .where(eq(users.emailLower, email.toLowerCase()))
      .limit(1);
    return row ? toUser(row) : null;
  }

  async findByEmailWithCounters(
    email: string,
    counterKeys: readonly string[],
    now: Date,
  ): Promise<UserWithCounters> {
    // Two statements on the one connection (pg queues them); both always run, known account or not.
    const [user, counterRows] = await Promise.all([
      this.findByEmail(email),
      selectCounters(this.db, counterKeys),
    ]);
    return { user, counters: liveCounters(counterKeys, counterRows, now) };
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
    if (query.emailPrefix)
      conds.push(like(users.emailLower, sql`${`${escapeLike(query.emailPrefix)}%`} escape '\\'`));
    if (query.cursor) {
      const c = decodeCursor(query.cursor);
      const at = new Date(c.createdAt);
      conds.push(
        or(lt(users.createdAt, at), and(eq(users.createdAt, at), sql`${byteOrder(users.id)} < ${c.id}`)),
      );
    }
    const rows = await this.db
      .select(selection)
      .from(users)
      .where(and(...conds))
      .orderBy(desc(users.createdAt), desc(byteOrder(users.id)))
      .limit(query.limit + 1);
    return toPage(rows.map(toUser), query.limit, (u) => ({ createdAt: u.createdAt.getTime(), id: u.id }));
  }
}
