import { and, eq, exists, isNull, type SQL, sql } from "drizzle-orm";
import { type Dialect, SqlTwoFactorRepository } from "../sql";
import type { D1Batch } from ".";

/** 2FA writes that span the user row and the recovery codes, each one D1 batch (one transaction). */
export class D1TwoFactorRepository extends SqlTwoFactorRepository {
  constructor(
    d: Dialect,
    private readonly batch: D1Batch,
  ) {
    super(d);
  }

  async enable(
    userId: string,
    pendingSecretEnc: string,
    step: number,
    recoveryCodeHashes: string[],
    now: Date,
  ): Promise<boolean> {
    // Every statement is conditional on the same state (this secret still pending, 2FA still off), read
    // inside the batch's transaction before the last statement changes it: all of them apply or none,
    // and a failing insert rolls the promotion back with it.
    const { db, t } = this.d;
    const { users, recoveryCodes } = t;
    const pending = exists(
      db
        .select({ one: sql`1` })
        .from(users)
        .where(
          and(eq(users.id, userId), eq(users.totpPendingEnc, pendingSecretEnc), isNull(users.totpSecretEnc)),
        ),
    );
    const [, , promoted] = (await this.batch([
      db.delete(recoveryCodes).where(and(eq(recoveryCodes.userId, userId), pending)),
      this.#insertCodes(userId, recoveryCodeHashes, now, pending),
      this.promotePending(userId, pendingSecretEnc, step, now),
    ])) as [unknown, unknown, unknown[]];
    return promoted.length === 1;
  }

  async disable(userId: string, now: Date): Promise<void> {
    const { db, t } = this.d;
    await this.batch([
      this.clearSecrets(userId, now),
      db.delete(t.recoveryCodes).where(eq(t.recoveryCodes.userId, userId)),
    ]);
  }

  async replaceRecoveryCodes(userId: string, codeHashes: string[], now: Date): Promise<void> {
    const { db, t } = this.d;
    await this.batch([
      db.delete(t.recoveryCodes).where(eq(t.recoveryCodes.userId, userId)),
      this.#insertCodes(userId, codeHashes, now, sql`1`),
    ]);
  }

  /** One INSERT of all the codes (a JSON array expanded by json_each), only where `condition` holds. */
  #insertCodes(userId: string, codeHashes: string[], now: Date, condition: SQL | undefined) {
    return this.d.db
      .insert(this.d.t.recoveryCodes)
      .select(
        sql`select ${userId}, c.value, ${now.getTime()}, null from json_each(${JSON.stringify(codeHashes)}) c where ${condition}`,
      );
  }
}
