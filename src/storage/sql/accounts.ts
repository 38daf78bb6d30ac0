import { and, eq, gt, inArray, isNotNull, isNull, ne, or, type SQL, sql } from "drizzle-orm";
import type {
  AccountRepository,
  EmailChangeResult,
  ErasureScope,
  OAuthProviderName,
  ProfilePatch,
  ProfileUpdateResult,
  UnlinkResult,
} from "../types";
import type { Dialect, SqlDb } from "./dialect";
import type { OutboxWriter } from "./outbox";
import { SqlUserRepository } from "./users";

/** A unique index refused the write: Postgres names the index, SQLite the column. */
export function isUniqueViolation(err: unknown, index: string, column: string): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 6; e = e.cause, depth++) {
    const pg = e as Error & { code?: string; constraint?: string };
    if (pg.code === "23505" && pg.constraint === index) return true;
    if (e.message.includes(index) || e.message.includes(`UNIQUE constraint failed: ${column}`)) return true;
  }
  return false;
}

/** Thrown inside a transaction to roll it back when the new address is taken. */
export class EmailTakenError extends Error {}

/**
 * The account lifecycle's statements, shared by both dialects; the multi-table writes (email change,
 * erasure) are each dialect's (a D1 batch, a Postgres transaction), and Postgres also overrides unlinking
 * to take the user-row lock its READ COMMITTED snapshots need (see PgPasskeyRepository).
 */
export abstract class SqlAccountRepository implements AccountRepository {
  protected readonly users: SqlUserRepository;

  constructor(
    protected readonly d: Dialect,
    // With a webhook, the erasure's final audit entry gets its delivery row in the same write, as every
    // other entry does (src/storage/sql/outbox.ts).
    protected readonly outbox: OutboxWriter | null = null,
  ) {
    this.users = new SqlUserRepository(d);
  }

  /** `lower(data.email)` of a one-time token, in this dialect's JSON syntax. */
  protected abstract tokenEmail(): SQL;

  abstract confirmEmailChange(
    tokenHash: string,
    killPurposes: string[],
    now: Date,
  ): Promise<EmailChangeResult>;

  abstract erase(scope: ErasureScope): Promise<boolean>;

  async updateProfile(userId: string, patch: ProfilePatch, now: Date): Promise<ProfileUpdateResult> {
    const { users } = this.d.t;
    const set: Record<string, unknown> = { updatedAt: now };
    if (patch.fullName !== undefined) set.fullName = patch.fullName;
    if (patch.username !== undefined) {
      set.username = patch.username;
      set.usernameLower = patch.username === null ? null : patch.username.toLowerCase();
    }
    try {
      const rows = await this.d.db
        .update(users)
        .set(set)
        .where(eq(users.id, userId))
        .returning({ id: users.id });
      if (rows.length === 0) return { kind: "not_found" };
    } catch (err) {
      // The unique index decides a race between two accounts taking one username: one UPDATE lands.
      if (isUniqueViolation(err, "users_username_lower_uq", "users.username_lower"))
        return { kind: "username_taken" };
      throw err;
    }
    const user = await this.users.findById(userId);
    return user ? { kind: "updated", user } : { kind: "not_found" };
  }

  async unlinkProvider(userId: string, provider: OAuthProviderName): Promise<UnlinkResult> {
    // D1 runs one write at a time, so the conditional DELETE alone is atomic there.
    return this.unlinkUnlessLast(this.d.db, userId, provider);
  }

  /**
   * One conditional DELETE: the links go only while another way to sign in remains (a password, a
   * passkey, a link to another provider). Email sign-in does not count (API.md: it may be turned off).
   */
  protected async unlinkUnlessLast(
    db: SqlDb,
    userId: string,
    provider: OAuthProviderName,
  ): Promise<UnlinkResult> {
    const { oauthAccounts: o, users: u, passkeys: p } = this.d.t;
    const rows = await db
      .delete(o)
      .where(
        and(
          eq(o.userId, userId),
          eq(o.provider, provider),
          or(
            sql`exists (select 1 from ${u} where ${u.id} = ${userId} and ${u.passwordHash} is not null)`,
            sql`exists (select 1 from ${p} where ${p.userId} = ${userId})`,
            // Qualified by hand: the inner oauth_accounts must not be read as the outer one.
            sql`exists (select 1 from "oauth_accounts" as "other" where "other"."user_id" = ${userId} and "other"."provider" <> ${provider})`,
          ),
        ),
      )
      .returning({ provider: o.provider });
    if (rows.length > 0) return "unlinked";
    // The decision is made; this read only tells the two refusals apart.
    const [still] = await db
      .select({ provider: o.provider })
      .from(o)
      .where(and(eq(o.userId, userId), eq(o.provider, provider)))
      .limit(1);
    return still ? "last_sign_in_method" : "not_found";
  }

  /** Outstanding tokens of the account (by user id) of these purposes, or carrying `emailLower`. */
  protected outstandingTokens(userId: string, emailLower: string, purposes: string[]): SQL {
    const { oneTimeTokens: t } = this.d.t;
    return and(
      isNull(t.consumedAt),
      or(
        and(eq(t.userId, userId), inArray(t.purpose, purposes)),
        and(isNotNull(t.data), sql`${this.tokenEmail()} = ${emailLower}`),
        // Email sign-in rows carry their address in a column (the account may not exist yet).
        eq(t.emailLower, emailLower),
      ),
    )!;
  }

  /** Every statement of an erasure but the audit entry and the user row, in a safe order. */
  protected erasureStatements(db: SqlDb, scope: ErasureScope) {
    const t = this.d.t;
    const { userId } = scope;
    const ownSessions = db
      .select({ id: t.sessions.id })
      .from(t.sessions)
      .where(eq(t.sessions.userId, userId));
    const keys = scope.personKeys;
    return [
      // The IP and user agent leave the account's audit entries; their salted digest keeps each hash
      // (src/audit/chain.ts). Entries hashed before the digest existed keep theirs (see README).
      db
        .update(t.auditLog)
        .set({ ip: null, userAgent: null, personalSalt: null })
        .where(and(eq(t.auditLog.userId, userId), isNotNull(t.auditLog.personalDigest))),
      db.delete(t.refreshTokens).where(inArray(t.refreshTokens.sessionId, ownSessions)),
      db.delete(t.sessions).where(eq(t.sessions.userId, userId)),
      db
        .delete(t.oneTimeTokens)
        .where(
          or(
            eq(t.oneTimeTokens.userId, userId),
            and(isNotNull(t.oneTimeTokens.data), sql`${this.tokenEmail()} = ${scope.email.toLowerCase()}`),
            eq(t.oneTimeTokens.emailLower, scope.email.toLowerCase()),
          ),
        ),
      db.delete(t.passkeyChallenges).where(eq(t.passkeyChallenges.userId, userId)),
      db.delete(t.passkeys).where(eq(t.passkeys.userId, userId)),
      db.delete(t.recoveryCodes).where(eq(t.recoveryCodes.userId, userId)),
      db.delete(t.oauthAccounts).where(eq(t.oauthAccounts.userId, userId)),
      ...(keys.length > 0
        ? [
            db.delete(t.counters).where(inArray(t.counters.key, keys)),
            db.delete(t.loginThrottle).where(inArray(t.loginThrottle.key, keys)),
          ]
        : []),
    ];
  }

  /** The address-change UPDATE, conditional on `extra` (D1: the token still live). */
  protected moveEmail(db: SqlDb, userId: string, fromLower: string, to: string, now: Date, extra?: SQL) {
    const { users } = this.d.t;
    return db
      .update(users)
      .set({ email: to, emailLower: to.toLowerCase(), updatedAt: now })
      .where(and(eq(users.id, userId), eq(users.emailLower, fromLower), extra))
      .returning({ id: users.id });
  }

  protected liveToken(tokenHash: string, now: Date): SQL {
    const { oneTimeTokens: t } = this.d.t;
    return and(
      eq(t.tokenHash, tokenHash),
      eq(t.purpose, "email_change"),
      isNull(t.consumedAt),
      gt(t.expiresAt, now),
    )!;
  }

  protected excluding(tokenHash: string): SQL {
    return ne(this.d.t.oneTimeTokens.tokenHash, tokenHash);
  }
}
