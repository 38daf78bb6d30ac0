import { and, asc, eq } from "drizzle-orm";
import type { OAuthAccount, OAuthAccountRepository, OAuthProviderName } from "../types";
import type { Dialect } from "./dialect";

export class SqlOAuthAccountRepository implements OAuthAccountRepository {
  constructor(private readonly d: Dialect) {}

  async find(provider: OAuthProviderName, providerUserId: string): Promise<OAuthAccount | null> {
    const { oauthAccounts: o } = this.d.t;
    const [row] = await this.d.db
      .select()
      .from(o)
      .where(and(eq(o.provider, provider), eq(o.providerUserId, providerUserId)))
      .limit(1);
    return row ? { ...row, provider: row.provider as OAuthProviderName } : null;
  }

  async link(account: OAuthAccount): Promise<boolean> {
    const { oauthAccounts: o } = this.d.t;
    // The primary key (provider, provider_user_id) decides a race between two links.
    const rows = await this.d.db.insert(o).values(account).onConflictDoNothing().returning({ p: o.provider });
    return rows.length === 1;
  }

  async listForUser(userId: string): Promise<OAuthAccount[]> {
    const { oauthAccounts: o } = this.d.t;
    const rows = await this.d.db
      .select()
      .from(o)
      .where(eq(o.userId, userId))
      .orderBy(asc(o.createdAt), asc(o.provider));
    return rows.map((row) => ({ ...row, provider: row.provider as OAuthProviderName }));
  }
}
