import { and, eq, exists, isNull, sql } from "drizzle-orm";
import type { DrizzleD1Database } from "drizzle-orm/d1";
import { type Dialect, SqlTwoFactorRepository } from "../sql";
import { recoveryCodes, users } from "./schema";

type Batch = Parameters<DrizzleD1Database["batch"]>[0];

/** 2FA writes that span the user row and the recovery codes, each one D1 batch (one transaction). */
export class D1TwoFactorRepository extends SqlTwoFactorRepository {
  constructor(
    d: Dialect,
    private readonly db: DrizzleD1Database,
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
    const pending = exists(
      this.db
        .select({ one: sql`1` })
        .from(users)
        .where(
          and(eq(users.id, userId), eq(users.totpPendingEnc, pendingSecretEnc), isNull(users.totpSecretEnc)),
        ),
    );
    const [, , promoted] = await this.db.batch([
      this.db.delete(recoveryCodes).where(and(eq(recoveryCodes.userId, userId), pending)),
      this.#insertCodes(userId, recoveryCodeHashes, now, pending),
      this.promotePending(userId, pendingSecretEnc, step, now),
    ] as unknown as Batch);
    return (promoted as unknown as unknown[]).length === 1;
  }

  async disable(userId: string, now: Date): Promise<void> {
    await this.db.batch([
      this.clearSecrets(userId, now),
      this.db.delete(recoveryCodes).where(eq(recoveryCodes.userId, userId)),
    ] as unknown as Batch);
  }

  async replaceRecoveryCodes(userId: string, codeHashes: string[], now: Date): Promise<void> {
    await this.db.batch([
      this.db.delete(recoveryCodes).where(eq(recoveryCodes.userId, userId)),
      this.#insertCodes(userId, codeHashes, now, sql`1`),
    ]);
  }

  /** One INSERT of all the codes (a JSON array expanded by json_each), only where `condition` holds. */
  #insertCodes(userId: string, codeHashes: string[], now: Date, condition: ReturnType<typeof sql>) {
    return this.db
      .insert(recoveryCodes)
      .select(
        sql`select ${userId}, c.value, ${now.getTime()}, null from json_each(${JSON.stringify(codeHashes)}) c where ${condition}`,
      );
  }
}
