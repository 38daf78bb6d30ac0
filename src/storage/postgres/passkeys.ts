import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/node-postgres";
import type pg from "pg";
import { type Dialect, SqlPasskeyRepository } from "../sql";
import type { PasskeyDeleteResult } from "../types";
import type { LazyPgClient } from "./connection";
import { users } from "./schema";

/**
 * The "last way to sign in" rule on Postgres. Under READ COMMITTED a lone conditional DELETE is not
 * enough: two deletes of a passwordless user's last two passkeys each run on a snapshot that still holds
 * the other passkey, touch different rows, and both win. So the DELETE runs in a transaction after a lock
 * on the user's row: concurrent deletes for one user queue on that lock, and the DELETE, a new statement,
 * takes a fresh snapshot that sees what the previous holder committed.
 */
export class PgPasskeyRepository extends SqlPasskeyRepository {
  constructor(
    d: Dialect,
    private readonly client: LazyPgClient,
  ) {
    super(d);
  }

  override delete(userId: string, id: string): Promise<PasskeyDeleteResult> {
    // The transaction gets the connection to itself (exclusive), so no concurrent caller's statement on
    // this per-request client ends up inside it, or waits behind the lock it holds.
    return this.client.exclusive((own) =>
      drizzle({ client: own as unknown as pg.Client }).transaction(async (tx) => {
        // NO KEY UPDATE: conflicts with itself (and any update of the user row) but not with the KEY
        // SHARE locks that inserts referencing the user take, so sessions and audit writes do not wait.
        await tx.select({ id: users.id }).from(users).where(eq(users.id, userId)).for("no key update");
        return this.deleteUnlessLast(tx, userId, id);
      }),
    );
  }
}
