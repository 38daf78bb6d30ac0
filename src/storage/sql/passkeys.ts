import { and, asc, eq, gt, isNull, lt, ne, or, sql } from "drizzle-orm";
import type * as pgTables from "../postgres/schema";
import type {
  NewPasskey,
  NewPasskeyChallenge,
  Passkey,
  PasskeyChallengePurpose,
  PasskeyChallengeRepository,
  PasskeyDeleteResult,
  PasskeyRepository,
} from "../types";
import { deleteBatch } from "./bounded-delete";
import type { Dialect, SqlDb } from "./dialect";

type Row = typeof pgTables.passkeys.$inferSelect;

function toPasskey(row: Row): Passkey {
  return {
    id: row.id,
    userId: row.userId,
    publicKey: row.publicKey,
    counter: Number(row.counter),
    transports: row.transports ? row.transports.split(",") : [],
    deviceType: row.deviceType,
    backedUp: row.backedUp,
    name: row.name,
    createdAt: row.createdAt,
    lastUsedAt: row.lastUsedAt,
  };
}

export class SqlPasskeyRepository implements PasskeyRepository {
  private readonly db: Dialect["db"];
  private readonly t: Dialect["t"];

  constructor(d: Dialect) {
    this.db = d.db;
    this.t = d.t;
  }

  async create(passkey: NewPasskey): Promise<boolean> {
    const rows = await this.db
      .insert(this.t.passkeys)
      .values({
        id: passkey.id,
        userId: passkey.userId,
        publicKey: passkey.publicKey,
        counter: passkey.counter,
        transports: passkey.transports.join(","),
        deviceType: passkey.deviceType,
        backedUp: passkey.backedUp,
        name: passkey.name,
        createdAt: passkey.createdAt,
      })
      .onConflictDoNothing()
      .returning({ id: this.t.passkeys.id });
    return rows.length === 1;
  }

  async findById(id: string): Promise<Passkey | null> {
    const { passkeys: p } = this.t;
    const [row] = await this.db.select().from(p).where(eq(p.id, id)).limit(1);
    return row ? toPasskey(row) : null;
  }

  async listForUser(userId: string): Promise<Passkey[]> {
    const { passkeys: p } = this.t;
    const rows = await this.db
      .select()
      .from(p)
      .where(eq(p.userId, userId))
      .orderBy(asc(p.createdAt), asc(p.id));
    return rows.map(toPasskey);
  }

  async rename(userId: string, id: string, name: string): Promise<Passkey | null> {
    const { passkeys: p } = this.t;
    const [row] = await this.db
      .update(p)
      .set({ name })
      .where(and(eq(p.id, id), eq(p.userId, userId)))
      .returning();
    return row ? toPasskey(row) : null;
  }

  async recordUse(id: string, newCounter: number, backedUp: boolean, now: Date): Promise<boolean> {
    const { passkeys: p } = this.t;
    // The counter rule and the write are one statement, so two assertions racing with the same counter
    // value cannot both pass (the row's own columns are re-checked under its lock on Postgres too).
    const rows = await this.db
      .update(p)
      .set({ counter: newCounter, backedUp, lastUsedAt: now })
      .where(and(eq(p.id, id), or(lt(p.counter, newCounter), and(eq(p.counter, 0), sql`${newCounter} = 0`))))
      .returning({ id: p.id });
    return rows.length === 1;
  }

  async delete(userId: string, id: string): Promise<PasskeyDeleteResult> {
    // D1 runs one write at a time, so the conditional DELETE alone is atomic there.
    return this.deleteUnlessLast(this.db, userId, id);
  }

  /**
   * The rule itself, on `db` (the Postgres subclass passes its transaction). One conditional DELETE: it
   * removes the passkey only while another way to sign in remains.
   */
  protected async deleteUnlessLast(db: SqlDb, userId: string, id: string): Promise<PasskeyDeleteResult> {
    const { passkeys: p, users: u, oauthAccounts: o } = this.t;
    // Another way to sign in must remain: a password, a linked provider or another passkey.
    const rows = await db
      .delete(p)
      .where(
        and(
          eq(p.id, id),
          eq(p.userId, userId),
          or(
            sql`exists (select 1 from ${u} where ${u.id} = ${userId} and ${u.passwordHash} is not null)`,
            sql`exists (select 1 from ${o} where ${o.userId} = ${userId})`,
            sql`exists (select 1 from ${p} where ${p.userId} = ${userId} and ${ne(p.id, id)})`,
          ),
        ),
      )
      .returning({ id: p.id });
    if (rows.length === 1) return "deleted";
    // The decision is made; this read only tells the two refusals apart.
    const [still] = await db
      .select({ id: p.id })
      .from(p)
      .where(and(eq(p.id, id), eq(p.userId, userId)))
      .limit(1);
    return still ? "last_sign_in_method" : "not_found";
  }
}

export class SqlPasskeyChallengeRepository implements PasskeyChallengeRepository {
  private readonly db: Dialect["db"];
  private readonly t: Dialect["t"];

  constructor(d: Dialect) {
    this.db = d.db;
    this.t = d.t;
  }

  async create(challenge: NewPasskeyChallenge): Promise<void> {
    await this.db.insert(this.t.passkeyChallenges).values({
      challengeHash: challenge.challengeHash,
      purpose: challenge.purpose,
      userId: challenge.userId,
      createdAt: challenge.now,
      expiresAt: challenge.expiresAt,
    });
  }

  async consume(
    purpose: PasskeyChallengePurpose,
    challengeHash: string,
    userId: string | null,
    now: Date,
  ): Promise<boolean> {
    const { passkeyChallenges: c } = this.t;
    const rows = await this.db
      .update(c)
      .set({ consumedAt: now })
      .where(
        and(
          eq(c.challengeHash, challengeHash),
          eq(c.purpose, purpose),
          userId === null ? isNull(c.userId) : eq(c.userId, userId),
          isNull(c.consumedAt),
          gt(c.expiresAt, now),
        ),
      )
      .returning({ h: c.challengeHash });
    return rows.length === 1;
  }

  async deleteExpiredBefore(cutoff: Date, limit: number): Promise<number> {
    const { passkeyChallenges: c } = this.t;
    return deleteBatch(this.db, c, c.challengeHash, lt(c.expiresAt, cutoff), limit);
  }
}
