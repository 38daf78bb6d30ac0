import { describe, expect, it } from "vitest";
import { newId } from "../../src/lib/crypto";
import { auditEntries, BASE, createVerifiedUser, PASSWORD, testClient } from "../helpers";
import { SoftwareAuthenticator } from "../passkeys/authenticator";
import { rawSql } from "../support/raw-sql";
import { withDb } from "./support";

describe("exporting the account", () => {
  it("serves profile, sessions, providers, passkeys without keys and own audit entries as an attachment", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const bystander = await createVerifiedUser(client);
    const token = user.tokens.access_token;
    const auth = await SoftwareAuthenticator.create(BASE);
    const options = await client.call("POST", "/auth/passkeys/register/options", { token });
    expect(
      (
        await client.call("POST", "/auth/passkeys/register", {
          token,
          json: { response: await auth.register(options.body), name: "Laptop" },
        })
      ).status,
    ).toBe(201);
    await withDb((db) =>
      db.oauthAccounts.link({
        provider: "google",
        providerUserId: "g-export",
        userId: user.id,
        email: user.email,
        createdAt: new Date(),
      }),
    );

    const res = await client.call("GET", "/auth/me/export", { token });
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Disposition")).toMatch(
      /^attachment; filename="edge-auth-export-\d{4}-\d{2}-\d{2}\.json"$/,
    );
    expect(res.headers.get("Content-Type")).toContain("application/json");
    expect(res.headers.get("Cache-Control")).toBe("no-store");
    const doc = res.body;
    expect(doc.format).toBe("edge-auth-export/1");
    expect(doc.profile).toMatchObject({
      id: user.id,
      email: user.email,
      full_name: "Test User",
      providers: ["password", "google", "passkey"],
    });
    expect(doc.sessions).toEqual([expect.objectContaining({ current: true })]);
    expect(doc.providers).toEqual([
      expect.objectContaining({ provider: "google", provider_user_id: "g-export", email: user.email }),
    ]);
    expect(doc.passkeys).toEqual([expect.objectContaining({ id: auth.credentialId, name: "Laptop" })]);
    expect(Object.keys(doc.passkeys[0])).not.toContain("public_key");
    const stored = await withDb((db) => db.passkeys.findById(auth.credentialId));
    expect(res.text).not.toContain(stored!.publicKey);
    expect(doc.two_factor).toEqual({ enabled: false, recovery_codes_remaining: 0 });
    const actions = doc.audit.entries.map((e: { action: string }) => e.action);
    expect(actions).toEqual(
      expect.arrayContaining(["register", "email_verified", "login_succeeded", "passkey_added"]),
    );
    expect(doc.audit.entries.every((e: { user_id: string }) => e.user_id === user.id)).toBe(true);
    expect(doc.audit.truncated).toBe(false);
    // Nothing of another account, nothing secret.
    expect(res.text).not.toContain(bystander.email);
    expect(res.text).not.toContain(bystander.id);
    for (const secret of [PASSWORD, user.tokens.refresh_token, "password_hash", "scrypt", "totp"])
      expect(res.text).not.toContain(secret);
    expect(await auditEntries(user.id)).toContainEqual(
      expect.objectContaining({ action: "account_exported", metadata: {} }),
    );
  });

  it("pages through a long audit log and stops at 2000 entries, saying so", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    // From 2000: older than every chained entry, so verification reads them as pre-chain rows.
    const base = Date.UTC(2000, 0, 1);
    // 2100 older entries, written in bulk as rows from before chaining (appending them one by one to
    // the chain would take minutes); the export reads them like any other.
    const kind = await withDb(async (db) => db.kind);
    for (let i = 0; i < 2100; i += 300) {
      const rows = Array.from({ length: 300 }, (_, j) => {
        const at = base + i + j;
        const when = kind === "d1" ? String(at) : `'${new Date(at).toISOString()}'::timestamptz`;
        return `('${newId()}', '${user.id}', 'token_refreshed', ${when})`;
      });
      await rawSql(`insert into audit_log (id, user_id, action, created_at) values ${rows.join(", ")}`);
    }
    const res = await client.call("GET", "/auth/me/export", { token: user.tokens.access_token });
    expect(res.status).toBe(200);
    expect(res.body.audit.entries).toHaveLength(2000);
    expect(res.body.audit.truncated).toBe(true);
    const ids = new Set(res.body.audit.entries.map((e: { id: string }) => e.id));
    expect(ids.size).toBe(2000);
    // Newest first: the sign-in of this test comes before the seeded (older) entries.
    expect(res.body.audit.entries[0].action).not.toBe("token_refreshed");
  });

  it("needs a recent sign-in", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const late = testClient({ now: () => new Date(Date.now() + 11 * 60_000) });
    const res = await late.call("GET", "/auth/me/export", { token: user.tokens.access_token });
    expect(res.status).toBe(403);
    expect(res.headers.get("Content-Disposition")).toBeNull();
  });
});
