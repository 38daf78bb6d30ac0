import { describe, expect, it } from "vitest";
import { newId } from "../../src/lib/crypto";
import { auditEntries, BASE, createVerifiedUser, PASSWORD, type TestClient, testClient } from "../helpers";
import { googleIdTokenSignIn, googleSub, oauthClient } from "../oauth/fake-providers";
import { SoftwareAuthenticator } from "../passkeys/authenticator";
import { withDb } from "./support";

const patch = (client: TestClient, token: string, json: unknown) =>
  client.call("PATCH", "/auth/me", { token, json });

describe("editing the profile", () => {
  it("sets and clears full name and username; the username signs in and is unique case-insensitively", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const name = `ada_${newId().slice(0, 8)}`;
    const res = await patch(client, user.tokens.access_token, {
      full_name: "  Ada Lovelace ",
      username: name,
      role: "admin",
      email: "x@example.com",
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      full_name: "Ada Lovelace",
      username: name,
      role: "user",
      email: user.email,
    });
    expect((await withDb((db) => db.users.findByUsername(name.toUpperCase())))?.id).toBe(user.id);
    const byName = await client.call("POST", "/auth/login", {
      form: { username: name.toUpperCase(), password: PASSWORD },
    });
    expect(byName.status).toBe(200);

    const other = await createVerifiedUser(client);
    const taken = await patch(client, other.tokens.access_token, { username: name.toUpperCase() });
    expect(taken.status).toBe(409);
    expect(taken.body.code).toBe("username_taken");

    const cleared = await patch(client, user.tokens.access_token, { full_name: null, username: null });
    expect(cleared.body).toMatchObject({ full_name: null, username: null });
    expect((await patch(client, other.tokens.access_token, { username: name })).status).toBe(200);

    const entries = (await auditEntries(user.id)).filter((e) => e.action === "profile_updated");
    expect(entries.map((e) => e.metadata)).toEqual([
      { fields: ["full_name", "username"] },
      { fields: ["full_name", "username"] },
    ]);
    expect(JSON.stringify(entries)).not.toContain("Ada");
  });

  it("refuses bad input with 422 and changes nothing", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    for (const bad of [
      { username: "a" },
      { username: "has space" },
      { username: "me@example.com" },
      { username: "_leading" },
      { username: "x".repeat(33) },
      { full_name: "x".repeat(101) },
      { full_name: "bell\u0007" },
      { full_name: 12 },
    ]) {
      const res = await patch(client, user.tokens.access_token, bad);
      expect(res.status, JSON.stringify(bad)).toBe(422);
    }
    const me = await client.call("GET", "/auth/me", { token: user.tokens.access_token });
    expect(me.body).toMatchObject({ full_name: "Test User", username: null });
    expect((await client.call("PATCH", "/auth/me", { json: {} })).status).toBe(401);
  });

  it("20 accounts racing for one username: exactly one gets it", async () => {
    const client = testClient();
    const users = await Promise.all(Array.from({ length: 5 }, () => createVerifiedUser(client)));
    const name = `race_${newId().slice(0, 8)}`;
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        patch(client, users[i % 5]!.tokens.access_token, { username: i % 2 ? name : name.toUpperCase() }),
      ),
    );
    const winners = new Set(results.filter((r) => r.status === 200).map((r) => r.body.id));
    expect(winners.size).toBe(1);
    for (const r of results) expect([200, 409]).toContain(r.status);
    expect((await withDb((db) => db.users.findByUsername(name)))?.id).toBe([...winners][0]);
  });
});

describe("unlinking a provider", () => {
  it("unlinks Google from an account with a password; 404 when not linked; 422 for an unknown provider", async () => {
    const harness = oauthClient();
    const user = await createVerifiedUser(harness.client);
    const sub = googleSub();
    const linked = await googleIdTokenSignIn(harness, { sub, email: user.email, email_verified: true });
    expect(linked.status).toBe(200);
    const token = user.tokens.access_token;
    const res = await harness.client.call("DELETE", "/auth/providers/google", { token });
    expect(res.status).toBe(204);
    expect((await harness.client.call("GET", "/auth/me", { token })).body.providers).toEqual(["password"]);
    expect(await withDb((db) => db.oauthAccounts.find("google", sub))).toBeNull();
    const notice = harness.client.mailbox.last(user.email);
    expect(notice.subject).toBe("edge-auth: Google sign-in was unlinked");
    expect(notice.text).not.toMatch(/https?:\/\/|token/i);
    const entry = (await auditEntries(user.id)).find((e) => e.action === "oauth_unlinked");
    expect(entry?.metadata).toEqual({ provider: "google" });
    const again = await harness.client.call("DELETE", "/auth/providers/google", { token });
    expect(again.status).toBe(404);
    expect((await harness.client.call("DELETE", "/auth/providers/twitter", { token })).status).toBe(422);
    // The Google account signs in anew (a fresh link to the verified address), it is not refused forever.
    expect(
      (await googleIdTokenSignIn(harness, { sub, email: user.email, email_verified: true })).status,
    ).toBe(200);
  });

  it("refuses to unlink the last way in (409), and allows it once a passkey exists", async () => {
    const harness = oauthClient();
    const client = harness.client;
    const signIn = await googleIdTokenSignIn(harness, {
      sub: googleSub(),
      email: `g.${newId()}@example.com`,
      email_verified: true,
    });
    expect(signIn.status).toBe(200);
    const token = signIn.body.access_token as string;
    const last = await client.call("DELETE", "/auth/providers/google", { token });
    expect(last.status).toBe(409);
    expect(last.body.code).toBe("last_sign_in_method");
    expect((await client.call("GET", "/auth/me", { token })).body.providers).toEqual(["google"]);

    const auth = await SoftwareAuthenticator.create(BASE);
    const options = await client.call("POST", "/auth/passkeys/register/options", { token });
    const added = await client.call("POST", "/auth/passkeys/register", {
      token,
      json: { response: await auth.register(options.body) },
    });
    expect(added.status).toBe(201);
    expect((await client.call("DELETE", "/auth/providers/google", { token })).status).toBe(204);
    expect((await client.call("GET", "/auth/me", { token })).body.providers).toEqual(["passkey"]);
  });

  it("unlinking both providers of a passwordless account in parallel leaves one", async () => {
    const harness = oauthClient();
    const client = harness.client;
    const signIn = await googleIdTokenSignIn(harness, {
      sub: googleSub(),
      email: `gf.${newId()}@example.com`,
      email_verified: true,
    });
    const token = signIn.body.access_token as string;
    const me = await client.call("GET", "/auth/me", { token });
    await withDb((db) =>
      db.oauthAccounts.link({
        provider: "facebook",
        providerUserId: `fb-${newId()}`,
        userId: me.body.id,
        email: null,
        createdAt: new Date(),
      }),
    );
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        client.call("DELETE", `/auth/providers/${i % 2 ? "google" : "facebook"}`, { token }),
      ),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 204)).toHaveLength(1);
    for (const s of statuses) expect([204, 404, 409]).toContain(s);
    const providers = (await client.call("GET", "/auth/me", { token })).body.providers;
    expect(providers).toHaveLength(1);
  });

  it("an unlink racing the removal of the only passkey leaves one way in", async () => {
    const harness = oauthClient();
    const client = harness.client;
    const signIn = await googleIdTokenSignIn(harness, {
      sub: googleSub(),
      email: `gp.${newId()}@example.com`,
      email_verified: true,
    });
    const token = signIn.body.access_token as string;
    const auth = await SoftwareAuthenticator.create(BASE);
    const options = await client.call("POST", "/auth/passkeys/register/options", { token });
    const added = await client.call("POST", "/auth/passkeys/register", {
      token,
      json: { response: await auth.register(options.body) },
    });
    expect(added.status).toBe(201);
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        i % 2
          ? client.call("DELETE", "/auth/providers/google", { token })
          : client.call("DELETE", `/auth/passkeys/${auth.credentialId}`, { token }),
      ),
    );
    expect(results.filter((r) => r.status === 204)).toHaveLength(1);
    expect((await client.call("GET", "/auth/me", { token })).body.providers).toHaveLength(1);
  });

  it("needs a recent sign-in", async () => {
    const harness = oauthClient();
    const user = await createVerifiedUser(harness.client);
    await googleIdTokenSignIn(harness, { sub: googleSub(), email: user.email, email_verified: true });
    // The same database, eleven minutes later: the sign-in is no longer recent.
    const late = testClient({ now: () => new Date(Date.now() + 11 * 60_000) });
    const res = await late.call("DELETE", "/auth/providers/google", { token: user.tokens.access_token });
    expect(res.status).toBe(403);
    expect(
      (await harness.client.call("GET", "/auth/me", { token: user.tokens.access_token })).body.providers,
    ).toEqual(["password", "google"]);
  });
});
