import { and, count, eq, isNotNull, isNull, lt, or } from "drizzle-orm";
import type { TwoFactorRepository, TwoFactorState } from "../types";
import type { Dialect } from "./dialect";

/**
 * The TOTP state lives on the user row, the recovery codes in their own table. The single-row statements
 * are shared; what writes both tables at once (enable, disable, replacing the codes) is each dialect's,
 * because D1 makes it atomic with a batch and Postgres with one statement of data-modifying CTEs.
 */
export abstract class SqlTwoFactorRepository implements TwoFactorRepository {
  constructor(protected readonly d: Dialect) {}

  abstract enable(
    userId: string,
    pendingSecretEnc: string,
    step: number,
    recoveryCodeHashes: string[],
    now: Date,
  ): Promise<boolean>;
  abstract disable(userId: string, now: Date): Promise<void>;
  abstract replaceRecoveryCodes(userId: string, codeHashes: string[], now: Date): Promise<void>;

  async get(userId: string): Promise<TwoFactorState | null> {
    const { users } = this.d.t;
    const [row] = await this.d.db
      .select({
        secretEnc: users.totpSecretEnc,
        pendingSecretEnc: users.totpPendingEnc,
        lastStep: users.totpLastStep,
      })
      .from(users)
      .where(eq(users.id, userId))
      .limit(1);
    return row ?? null;
  }

  async setPending(userId: string, pendingSecretEnc: string, now: Date): Promise<void> {
    const { users } = this.d.t;
    await this.d.db
      .update(users)
      .set({ totpPendingEnc: pendingSecretEnc, updatedAt: now })
      .where(eq(users.id, userId));
  }

  async acceptStep(userId: string, step: number): Promise<boolean> {
    const { users } = this.d.t;
    const rows = await this.d.db
      .update(users)
      .set({ totpLastStep: step })
      .where(
        and(
          eq(users.id, userId),
          isNotNull(users.totpSecretEnc),
          or(isNull(users.totpLastStep), lt(users.totpLastStep, step)),
        ),
      )
      .returning({ id: users.id });
    return rows.length === 1;
  }

  async consumeRecoveryCode(userId: string, codeHash: string, now: Date): Promise<boolean> {
    const { recoveryCodes: r } = this.d.t;
    const rows = await this.d.db
      .update(r)
      .set({ usedAt: now })
      .where(and(eq(r.userId, userId), eq(r.codeHash, codeHash), isNull(r.usedAt)))
      .returning({ u: r.userId });
    return rows.length === 1;
  }

  async countRecoveryCodes(userId: string): Promise<number> {
    const { recoveryCodes: r } = this.d.t;
    const [row] = await this.d.db
      .select({ n: count() })
      .from(r)
      .where(and(eq(r.userId, userId), isNull(r.usedAt)));
    return row?.n ?? 0;
  }

  /** The conditional promotion of the pending secret: matches only while it is still the one shown. */
  protected promotePending(userId: string, pendingSecretEnc: string, step: number, now: Date) {
    const { users } = this.d.t;
    return this.d.db
      .update(users)
      .set({ totpSecretEnc: pendingSecretEnc, totpPendingEnc: null, totpLastStep: step, updatedAt: now })
      .where(
        and(eq(users.id, userId), eq(users.totpPendingEnc, pendingSecretEnc), isNull(users.totpSecretEnc)),
      )
      .returning({ id: users.id });
  }

  /** Clears every TOTP column of the user. */
  protected clearSecrets(userId: string, now: Date) {
    const { users } = this.d.t;
    return this.d.db
      .update(users)
      .set({ totpSecretEnc: null, totpPendingEnc: null, totpLastStep: null, updatedAt: now })
      .where(eq(users.id, userId))
      .returning({ id: users.id });
  }
}
