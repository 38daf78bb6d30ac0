import { and, eq, exists, type SQL, sql } from "drizzle-orm";
import { chainAfter, chainOf } from "../../audit/chain";
import type { Dialect } from "../sql";
import { isUniqueViolation, SqlAccountRepository } from "../sql/accounts";
import { readChainTail, retryOnChainConflict } from "../sql/audit-chain";
import type { OutboxWriter } from "../sql/outbox";
import type { EmailChangeResult, ErasureScope } from "../types";
import type { D1Batch } from ".";

/**
 * The account lifecycle's multi-table writes, each one D1 batch (one transaction: all statements apply
 * or none). D1 runs one write at a time, so statements conditional on the same state, read inside the
 * batch, decide together.
 */
export class D1AccountRepository extends SqlAccountRepository {
  constructor(
    d: Dialect,
    private readonly batch: D1Batch,
    outbox: OutboxWriter | null = null,
  ) {
    super(d, outbox);
  }

  protected tokenEmail(): SQL {
    return sql`lower(json_extract(${this.d.t.oneTimeTokens.data}, '$.email'))`;
  }

  async confirmEmailChange(tokenHash: string, killPurposes: string[], now: Date): Promise<EmailChangeResult> {
    const { db, t } = this.d;
    for (let attempt = 0; attempt < 5; attempt++) {
      // Read outside the batch, then every statement re-checks what it relies on.
      const [token] = await db
        .select({ userId: t.oneTimeTokens.userId, data: t.oneTimeTokens.data })
        .from(t.oneTimeTokens)
        .where(this.liveToken(tokenHash, now))
        .limit(1);
      const to = token?.data?.email;
      if (!token?.userId || typeof to !== "string") return { kind: "invalid" };
      const before = await this.users.findById(token.userId);
      if (!before) return { kind: "invalid" };
      const fromLower = before.email.toLowerCase();
      const live = exists(
        db.select({ one: sql`1` }).from(t.oneTimeTokens).where(this.liveToken(tokenHash, now)),
      );
      const moved = exists(
        db
          .select({ one: sql`1` })
          .from(t.users)
          .where(and(eq(t.users.id, token.userId), eq(t.users.emailLower, to.toLowerCase()))),
      );
      let results: readonly unknown[];
      try {
        results = await this.batch([
          this.moveEmail(db, token.userId, fromLower, to, now, live),
          // Spent only if the address moved (a unique-index refusal rolls the whole batch back first).
          db
            .update(t.oneTimeTokens)
            .set({ consumedAt: now })
            .where(and(this.liveToken(tokenHash, now), moved))
            .returning({ h: t.oneTimeTokens.tokenHash }),
          db
            .update(t.oneTimeTokens)
            .set({ consumedAt: now })
            .where(
              and(
                this.outstandingTokens(token.userId, fromLower, killPurposes),
                this.excluding(tokenHash),
                moved,
              ),
            ),
        ]);
      } catch (err) {
        if (isUniqueViolation(err, "users_email_lower_uq", "users.email_lower")) return { kind: "taken" };
        throw err;
      }
      const spent = results[1] as unknown[];
      if (spent.length === 1) {
        const user = await this.users.findById(token.userId);
        return user ? { kind: "changed", user, previousEmail: before.email } : { kind: "invalid" };
      }
      // The address changed between the read and the batch (another confirmation): read again.
    }
    return { kind: "invalid" };
  }

  async erase(scope: ErasureScope): Promise<boolean> {
    const { db, t } = this.d;
    // The final entry joins the account's chain in the same batch; a writer that took its seq meanwhile
    // fails the whole batch, which is retried from the new tail (and then sees the account gone).
    return retryOnChainConflict(async () => {
      if (!(await this.users.findById(scope.userId))) return false;
      const tail = await readChainTail(this.d, chainOf(scope.userId));
      const chained = { ...scope.audit, ...chainAfter(tail, scope.audit) };
      const results = await this.batch([
        ...this.erasureStatements(db, scope),
        db.insert(t.auditLog).values(chained),
        ...(this.outbox ? [this.outbox.insert(chained)] : []),
        db.delete(t.users).where(eq(t.users.id, scope.userId)).returning({ id: t.users.id }),
      ]);
      const erased = (results[results.length - 1] as unknown[]).length === 1;
      if (erased) this.outbox?.written();
      return erased;
    });
  }
}
