import { eq, type SQL, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/node-postgres";
import type pg from "pg";
import { chainAfter, chainOf } from "../../audit/chain";
import type { Dialect, SqlDb } from "../sql";
import { EmailTakenError, isUniqueViolation, SqlAccountRepository } from "../sql/accounts";
import { readChainTail, retryOnChainConflict } from "../sql/audit-chain";
import type { OutboxWriter } from "../sql/outbox";
import type { EmailChangeResult, ErasureScope, OAuthProviderName, UnlinkResult } from "../types";
import type { LazyPgClient } from "./connection";
import { users } from "./schema";

/**
 * The account lifecycle's multi-table writes on Postgres, each one transaction on a connection of its
 * own (LazyPgClient.exclusive: no concurrent caller's statement lands inside it). Each starts by locking
 * the user's row, so writes that decide on the account's state (unlinking, passkey deletion, erasure)
 * queue one behind the other and each sees what the previous one committed.
 */
export class PgAccountRepository extends SqlAccountRepository {
  constructor(
    d: Dialect,
    private readonly client: LazyPgClient,
    outbox: OutboxWriter | null = null,
  ) {
    super(d, outbox);
  }

  protected tokenEmail(): SQL {
    return sql`lower(${this.d.t.oneTimeTokens.data}->>'email')`;
  }

  #transaction<T>(fn: (tx: SqlDb) => Promise<T>): Promise<T> {
    return this.client.exclusive((own) =>
      drizzle({ client: own as unknown as pg.Client }).transaction((tx) => fn(tx as unknown as SqlDb)),
    );
  }

  /** Locks the user row: NO KEY UPDATE conflicts with itself, not with the inserts that reference it. */
  async #lock(tx: SqlDb, userId: string, strength: "no key update" | "update") {
    const [row] = await tx
      .select({ email: users.email })
      .from(users)
      .where(eq(users.id, userId))
      .for(strength);
    return row;
  }

  override unlinkProvider(userId: string, provider: OAuthProviderName): Promise<UnlinkResult> {
    // Under READ COMMITTED, two unlinks (or an unlink and a passkey deletion) of a user's last two ways
    // in would each see the other still there; the row lock serialises them (see PgPasskeyRepository).
    return this.#transaction(async (tx) => {
      await this.#lock(tx, userId, "no key update");
      return this.unlinkUnlessLast(tx, userId, provider);
    });
  }

  async confirmEmailChange(tokenHash: string, killPurposes: string[], now: Date): Promise<EmailChangeResult> {
    const { oneTimeTokens: t } = this.d.t;
    let changed: { userId: string; previousEmail: string } | null;
    try {
      changed = await this.#transaction(async (tx) => {
        const [token] = await tx
          .update(t)
          .set({ consumedAt: now })
          .where(this.liveToken(tokenHash, now))
          .returning({ userId: t.userId, data: t.data });
        const to = token?.data?.email;
        if (!token?.userId || typeof to !== "string") return null;
        const before = await this.#lock(tx, token.userId, "no key update");
        if (!before) return null;
        const fromLower = before.email.toLowerCase();
        try {
          // Two accounts confirming one address: the second UPDATE waits on the unique index entry and
          // fails once the first commits. The whole transaction (the token's spending too) rolls back.
          await this.moveEmail(tx, token.userId, fromLower, to, now);
        } catch (err) {
          if (isUniqueViolation(err, "users_email_lower_uq", "users.email_lower"))
            throw new EmailTakenError();
          throw err;
        }
        await tx
          .update(t)
          .set({ consumedAt: now })
          .where(this.outstandingTokens(token.userId, fromLower, killPurposes));
        return { userId: token.userId, previousEmail: before.email };
      });
    } catch (err) {
      if (
        err instanceof EmailTakenError ||
        isUniqueViolation(err, "users_email_lower_uq", "users.email_lower")
      )
        return { kind: "taken" };
      throw err;
    }
    if (!changed) return { kind: "invalid" };
    const user = await this.users.findById(changed.userId);
    return user ? { kind: "changed", user, previousEmail: changed.previousEmail } : { kind: "invalid" };
  }

  async erase(scope: ErasureScope): Promise<boolean> {
    const { auditLog, users: u } = this.d.t;
    // A writer that took the final entry's seq fails the transaction; it is retried from the new tail.
    return retryOnChainConflict(() =>
      this.#transaction(async (tx) => {
        // FOR UPDATE (a delete follows): inserts referencing the user wait, then fail their foreign key.
        if (!(await this.#lock(tx, scope.userId, "update"))) return false;
        for (const statement of this.erasureStatements(tx, scope)) await statement;
        const tail = await readChainTail({ ...this.d, db: tx }, chainOf(scope.userId));
        const chained = { ...scope.audit, ...chainAfter(tail, scope.audit) };
        await tx.insert(auditLog).values(chained);
        if (this.outbox) await tx.insert(this.d.t.webhookOutbox).values(this.outbox.row(chained));
        const gone = await tx.delete(u).where(eq(u.id, scope.userId)).returning({ id: u.id });
        return gone.length === 1;
      }),
    ).then((erased) => {
      if (erased) this.outbox?.written();
      return erased;
    });
  }
}
