import { and, count, notInArray, type SQL, sql } from "drizzle-orm";
import type { NodePgDatabase } from "drizzle-orm/node-postgres";
import { type Dialect, SqlTwoFactorRepository } from "../sql";
import { recoveryCodes } from "./schema";

/** 2FA writes that span the user row and the recovery codes, each one statement of data-modifying CTEs. */
export class PgTwoFactorRepository extends SqlTwoFactorRepository {
  constructor(
    d: Dialect,
    private readonly db: NodePgDatabase,
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
    // The codes are replaced only if the conditional UPDATE won, and never half-way.
    const enabled = this.db.$with("enabled").as(this.promotePending(userId, pendingSecretEnc, step, now));
    const rows = await this.db
      .with(
        enabled,
        ...this.#replaceCodes(sql`(select ${enabled.id} from ${enabled})`, recoveryCodeHashes, now),
      )
      .select({ id: enabled.id })
      .from(enabled);
    return rows.length === 1;
  }

  async disable(userId: string, now: Date): Promise<void> {
    const cleared = this.db.$with("cleared").as(this.clearSecrets(userId, now));
    const dropped = this.db
      .$with("dropped")
      .as(
        this.db
          .delete(recoveryCodes)
          .where(sql`${recoveryCodes.userId} = ${userId}`)
          .returning({ u: recoveryCodes.userId }),
      );
    await this.db.with(cleared, dropped).select({ id: cleared.id }).from(cleared);
  }

  async replaceRecoveryCodes(userId: string, codeHashes: string[], now: Date): Promise<void> {
    const [removed, added] = this.#replaceCodes(sql`${userId}`, codeHashes, now);
    await this.db.with(removed, added).select({ n: count() }).from(added);
  }

  /**
   * CTEs that make the user's codes exactly `codeHashes`, all unused. Sub-statements of one statement
   * run against one snapshot in no set order, so the DELETE spares the codes being (re)inserted and the
   * INSERT upserts, instead of relying on delete-then-insert ordering.
   */
  #replaceCodes(owner: SQL, codeHashes: string[], now: Date) {
    const removed = this.db.$with("removed").as(
      this.db
        .delete(recoveryCodes)
        .where(
          and(
            sql`${recoveryCodes.userId} in (${owner})`,
            codeHashes.length > 0 ? notInArray(recoveryCodes.codeHash, codeHashes) : undefined,
          ),
        )
        .returning({ u: recoveryCodes.userId }),
    );
    const added = this.db.$with("added").as(
      this.db
        .insert(recoveryCodes)
        .select(
          sql`select o.id, c.code_hash, ${now.toISOString()}::timestamptz, null::timestamptz
              from (select (${owner})::text as id) o
              cross join unnest(${sql.param(codeHashes)}::text[]) as c(code_hash)
              where o.id is not null`,
        )
        .onConflictDoUpdate({
          target: [recoveryCodes.userId, recoveryCodes.codeHash],
          set: { usedAt: null, createdAt: now },
        })
        .returning({ u: recoveryCodes.userId }),
    );
    return [removed, added] as const;
  }
}
