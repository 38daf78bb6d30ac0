import { describe, expect, it } from "vitest";
import {
  auditEntries,
  BASE,
  createVerifiedUser,
  type TestClient,
  type TestUser,
  testClient,
  withDb,
} from "../helpers";
import { SoftwareAuthenticator } from "./authenticator";

/** A clock the test moves; the app reads it for challenges, sessions and the recent-auth window. */
function clock(start = Date.now()) {
  let t = start;
  return { now: () => new Date(t), advance: (ms: number) => (t += ms) };
}

async function registerPasskey(
  client: TestClient,
  user: TestUser,
  auth: SoftwareAuthenticator,
  name?: string,
) {
  const options = await client.call("POST", "/auth/passkeys/register/options", {
    token: user.tokens.access_token,
  });
  expect(options.status).toBe(200);
  const response = await auth.register(options.body);
  return client.call("POST", "/auth/passkeys/register", {
    token: user.tokens.access_token,
    json: { response, ...(name ? { name } : {}) },
  });
}

async function loginOptions(client: TestClient) {
  const options = await client.call("POST", "/auth/passkeys/login/options", { json: {} });
  expect(options.status).toBe(200);
  return options.body as { challenge: string; rpId: string; allowCredentials?: unknown[] };
}

async function passkeyLogin(client: TestClient, auth: SoftwareAuthenticator) {
  const response = await auth.assert(await loginOptions(client));
  return client.call("POST", "/auth/passkeys/login", { json: { response } });
}

async function failures(userId: string): Promise<unknown[]> {
  return (await auditEntries(userId))
    .filter((e) => e.action === "passkey_failed")
    .map((e) => e.metadata.reason);
}

describe("passkeys over HTTP", () => {
  it("registers a passkey, lists it and signs in with it (tokens that work, audit entries, last use)", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const auth = await SoftwareAuthenticator.create(BASE);

    const options = await client.call("POST", "/auth/passkeys/register/options", {
      token: user.tokens.access_token,
    });
    expect(options.status).toBe(200);
    expect(options.body.rp).toEqual({ name: "edge-auth", id: "auth.example.test" });
    expect(options.body.authenticatorSelection).toMatchObject({
      residentKey: "required",
      userVerification: "preferred",
    });
    expect(
      options.body.pubKeyCredParams.map((p: { alg: number }) => p.alg).sort((a: number, b: number) => a - b),
    ).toEqual([-257, -8, -7]);
    expect(options.body.excludeCredentials).toEqual([]);
    expect(options.body.attestation).toBe("none");

    const created = await client.call("POST", "/auth/passkeys/register", {
      token: user.tokens.access_token,
      json: { response: await auth.register(options.body), name: "Test key" },
    });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: auth.credentialId,
      name: "Test key",
      created_at: expect.any(String),
      last_used_at: null,
      backed_up: false,
      device_type: "singleDevice",
    });
    expect(client.mailbox.last(user.email).subject).toBe("edge-auth: A passkey was added");
    const stored = await withDb((db) => db.passkeys.findById(auth.credentialId));
    expect(stored).toMatchObject({ userId: user.id, counter: 0, transports: ["internal"] });

    // The next registration excludes it.
    const again = await client.call("POST", "/auth/passkeys/register/options", {
      token: user.tokens.access_token,
    });
    expect(again.body.excludeCredentials).toEqual([
      { id: auth.credentialId, type: "public-key", transports: ["internal"] },
    ]);

    const opts = await loginOptions(client);
    expect(opts.allowCredentials ?? []).toEqual([]);
    expect(opts.rpId).toBe("auth.example.test");
    const login = await client.call("POST", "/auth/passkeys/login", {
      json: { response: await auth.assert(opts) },
    });
    expect(login.status).toBe(200);
    expect(login.headers.get("Cache-Control")).toBe("no-store");
    expect(login.body).toMatchObject({ token_type: "bearer", access_token: expect.any(String) });

    const me = await client.call("GET", "/auth/me", { token: login.body.access_token });
    expect(me.status).toBe(200);
    expect(me.body.providers).toEqual(["password", "passkey"]);

    const list = await client.call("GET", "/auth/passkeys", { token: login.body.access_token });
    expect(list.body.items).toHaveLength(1);
    expect(list.body.items[0].last_used_at).not.toBeNull();
    expect((await withDb((db) => db.passkeys.findById(auth.credentialId)))?.counter).toBe(1);
    const actions = (await auditEntries(user.id)).map((e) => e.action);
    expect(actions).toContain("passkey_added");
    expect(actions).toContain("passkey_login");
  });

  it("renames only the caller's passkeys", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const other = await createVerifiedUser(client);
    const auth = await SoftwareAuthenticator.create(BASE);
    expect((await registerPasskey(client, user, auth)).body.name).toBe("Passkey");
    const path = `/auth/passkeys/${auth.credentialId}`;
    const stolen = await client.call("PATCH", path, {
      token: other.tokens.access_token,
      json: { name: "Mine" },
    });
    expect(stolen.status).toBe(404);
    const renamed = await client.call("PATCH", path, {
      token: user.tokens.access_token,
      json: { name: "  Phone " },
    });
    expect(renamed.status).toBe(200);
    expect(renamed.body.name).toBe("Phone");
    expect((await withDb((db) => db.passkeys.findById(auth.credentialId)))?.name).toBe("Phone");
    const bad = await client.call("PATCH", path, {
      token: user.tokens.access_token,
      json: { name: "a\u0000b" },
    });
    expect([400, 422]).toContain(bad.status);
  });

  it("refuses a replayed assertion and a replayed registration", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const auth = await SoftwareAuthenticator.create(BASE);
    const options = await client.call("POST", "/auth/passkeys/register/options", {
      token: user.tokens.access_token,
    });
    const registration = await auth.register(options.body);
    const first = await client.call("POST", "/auth/passkeys/register", {
      token: user.tokens.access_token,
      json: { response: registration },
    });
    expect(first.status).toBe(201);
    const replayedRegistration = await client.call("POST", "/auth/passkeys/register", {
      token: user.tokens.access_token,
      json: { response: registration },
    });
    expect(replayedRegistration.status).toBe(400);
    expect(replayedRegistration.body.code).toBe("invalid_passkey");

    const assertion = await auth.assert(await loginOptions(client));
    expect(
      (await client.call("POST", "/auth/passkeys/login", { json: { response: assertion } })).status,
    ).toBe(200);
    const replay = await client.call("POST", "/auth/passkeys/login", { json: { response: assertion } });
    expect(replay.status).toBe(401);
    expect(replay.body.code).toBe("invalid_passkey");
    expect(replay.headers.get("Content-Type")).toContain("application/problem+json");
  });

  it("refuses a wrong origin or RP id, and the challenge is spent by the attempt", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const auth = await SoftwareAuthenticator.create(BASE);

    const regOptions = await client.call("POST", "/auth/passkeys/register/options", {
      token: user.tokens.access_token,
    });
    const phished = await client.call("POST", "/auth/passkeys/register", {
      token: user.tokens.access_token,
      json: {
        response: await auth.register(regOptions.body, { origin: "https://auth.example.test.evil.example" }),
      },
    });
    expect(phished.status).toBe(400);
    const regOptions2 = await client.call("POST", "/auth/passkeys/register/options", {
      token: user.tokens.access_token,
    });
    const otherRp = await client.call("POST", "/auth/passkeys/register", {
      token: user.tokens.access_token,
      json: { response: await auth.register(regOptions2.body, { rpId: "evil.example" }) },
    });
    expect(otherRp.status).toBe(400);
    expect(await withDb((db) => db.passkeys.listForUser(user.id))).toEqual([]);

    expect((await registerPasskey(client, user, auth)).status).toBe(201);
    const opts = await loginOptions(client);
    const wrongOrigin = await client.call("POST", "/auth/passkeys/login", {
      json: { response: await auth.assert(opts, { origin: "https://evil.example" }) },
    });
    expect(wrongOrigin.status).toBe(401);
    // The same challenge, now with the right origin: already spent.
    const retry = await client.call("POST", "/auth/passkeys/login", {
      json: { response: await auth.assert(opts) },
    });
    expect(retry.status).toBe(401);
    const wrongRp = await client.call("POST", "/auth/passkeys/login", {
      json: { response: await auth.assert(await loginOptions(client), { rpId: "example.test" }) },
    });
    expect(wrongRp.status).toBe(401);
    // Origin and RP id are checked with the signature; the spent challenge is refused before anyone is known.
    // Two registrations, two sign-ins.
    expect(await failures(user.id)).toEqual(["verification", "verification", "verification", "verification"]);
  });

  it("refuses an expired challenge (5 minutes) and one the server never issued", async () => {
    const time = clock();
    const client = testClient({ now: time.now });
    const user = await createVerifiedUser(client);
    const auth = await SoftwareAuthenticator.create(BASE);
    expect((await registerPasskey(client, user, auth)).status).toBe(201);

    const opts = await loginOptions(client);
    time.advance(5 * 60_000 + 1_000);
    const late = await client.call("POST", "/auth/passkeys/login", {
      json: { response: await auth.assert(opts) },
    });
    expect(late.status).toBe(401);
    const invented = await client.call("POST", "/auth/passkeys/login", {
      json: {
        response: await auth.assert({ ...opts, challenge: "aW52ZW50ZWQtY2hhbGxlbmdlLWJ5LXRoZS1jbGllbnQ" }),
      },
    });
    expect(invented.status).toBe(401);
    // A fresh challenge still works.
    expect((await passkeyLogin(client, auth)).status).toBe(200);
  });

  it("binds a registration challenge to the user who asked for it", async () => {
    const client = testClient();
    const alice = await createVerifiedUser(client);
    const mallory = await createVerifiedUser(client);
    const auth = await SoftwareAuthenticator.create(BASE);
    const aliceOptions = await client.call("POST", "/auth/passkeys/register/options", {
      token: alice.tokens.access_token,
    });
    const crossed = await client.call("POST", "/auth/passkeys/register", {
      token: mallory.tokens.access_token,
      json: { response: await auth.register(aliceOptions.body) },
    });
    expect(crossed.status).toBe(400);
    // A sign-in challenge is not a registration challenge either.
    const signIn = await loginOptions(client);
    const wrongKind = await client.call("POST", "/auth/passkeys/register", {
      token: alice.tokens.access_token,
      json: { response: await auth.register({ ...aliceOptions.body, challenge: signIn.challenge }) },
    });
    expect(wrongKind.status).toBe(400);
    expect(await withDb((db) => db.passkeys.findById(auth.credentialId))).toBeNull();
  });

  it("refuses an unknown credential and a signature by another key", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const auth = await SoftwareAuthenticator.create(BASE);
    expect((await registerPasskey(client, user, auth)).status).toBe(201);

    const stranger = await SoftwareAuthenticator.create(BASE);
    const unknown = await passkeyLogin(client, stranger);
    expect(unknown.status).toBe(401);
    expect(unknown.body.code).toBe("invalid_passkey");

    const forged = await client.call("POST", "/auth/passkeys/login", {
      json: {
        response: await auth.assert(await loginOptions(client), {
          signWith: await SoftwareAuthenticator.strangerKey(),
        }),
      },
    });
    expect(forged.status).toBe(401);
    expect((await withDb((db) => db.passkeys.findById(auth.credentialId)))?.lastUsedAt).toBeNull();
    expect(await failures(user.id)).toContain("verification");
  });

  it("refuses and audits a counter that goes backwards; an authenticator that does not count keeps working", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const counting = await SoftwareAuthenticator.create(BASE);
    expect((await registerPasskey(client, user, counting)).status).toBe(201);
    const five = await client.call("POST", "/auth/passkeys/login", {
      json: { response: await counting.assert(await loginOptions(client), { counter: 5 }) },
    });
    expect(five.status).toBe(200);
    const cloned = await client.call("POST", "/auth/passkeys/login", {
      json: { response: await counting.assert(await loginOptions(client), { counter: 3 }) },
    });
    expect(cloned.status).toBe(401);
    const same = await client.call("POST", "/auth/passkeys/login", {
      json: { response: await counting.assert(await loginOptions(client), { counter: 5 }) },
    });
    expect(same.status).toBe(401);
    expect((await withDb((db) => db.passkeys.findById(counting.credentialId)))?.counter).toBe(5);
    expect(await failures(user.id)).toEqual(["counter_regressed", "counter_regressed"]);

    const still = await SoftwareAuthenticator.create(BASE, { counting: false });
    expect((await registerPasskey(client, user, still)).status).toBe(201);
    expect((await passkeyLogin(client, still)).status).toBe(200);
    expect((await passkeyLogin(client, still)).status).toBe(200);
  });

  it("refuses a deactivated account with 403", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const auth = await SoftwareAuthenticator.create(BASE);
    expect((await registerPasskey(client, user, auth)).status).toBe(201);
    await withDb((db) => db.users.update(user.id, { isActive: false }, new Date()));
    const login = await passkeyLogin(client, auth);
    expect(login.status).toBe(403);
    expect(login.body.code).toBe("account_disabled");
    expect(login.body.access_token).toBeUndefined();
    expect(await failures(user.id)).toContain("account_disabled");
  });

  it("signs a 2FA account in with tokens, never mfa_required, when the authenticator verified the user", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const auth = await SoftwareAuthenticator.create(BASE);
    expect((await registerPasskey(client, user, auth)).status).toBe(201);
    await withDb(async (db) => {
      await db.twoFactor.setPending(user.id, "sealed-secret", new Date());
      expect(await db.twoFactor.enable(user.id, "sealed-secret", 1, [], new Date())).toBe(true);
    });
    const password = await client.call("POST", "/auth/login", {
      json: { email: user.email, password: user.password },
    });
    expect(password.body.mfa_required).toBe(true);

    const login = await passkeyLogin(client, auth);
    expect(login.status).toBe(200);
    expect(login.body.mfa_required).toBeUndefined();
    expect(
      (await client.call("GET", "/auth/me", { token: login.body.access_token })).body.two_factor_enabled,
    ).toBe(true);

    // Presence alone (no PIN or biometric) is one factor: not enough for a 2FA account.
    const presenceOnly = await client.call("POST", "/auth/passkeys/login", {
      json: { response: await auth.assert(await loginOptions(client), { userVerified: false }) },
    });
    expect(presenceOnly.status).toBe(401);
    expect(await failures(user.id)).toContain("user_not_verified");
  });

  it("lets a passwordless account live on passkeys and refuses to delete its last one (409)", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const first = await SoftwareAuthenticator.create(BASE);
    const second = await SoftwareAuthenticator.create(BASE);
    expect((await registerPasskey(client, user, first)).status).toBe(201);
    // As after an email sign-in: the account has no password.
    await withDb((db) => db.users.update(user.id, { passwordHash: null }, new Date()));
    const login = await passkeyLogin(client, first);
    expect(login.status).toBe(200);
    const token = login.body.access_token;
    expect((await client.call("GET", "/auth/me", { token })).body.providers).toEqual(["passkey"]);

    const last = await client.call("DELETE", `/auth/passkeys/${first.credentialId}`, { token });
    expect(last.status).toBe(409);
    expect(last.body.code).toBe("last_sign_in_method");
    expect(await withDb((db) => db.passkeys.findById(first.credentialId))).not.toBeNull();

    const signedIn = { ...user, tokens: login.body };
    expect((await registerPasskey(client, signedIn, second)).status).toBe(201);
    expect((await client.call("DELETE", `/auth/passkeys/${first.credentialId}`, { token })).status).toBe(204);
    expect(await withDb((db) => db.passkeys.findById(first.credentialId))).toBeNull();
    expect(client.mailbox.last(user.email).subject).toBe("edge-auth: A passkey was removed");
    expect((await client.call("DELETE", `/auth/passkeys/${second.credentialId}`, { token })).status).toBe(
      409,
    );
    expect((await client.call("DELETE", `/auth/passkeys/${first.credentialId}`, { token })).status).toBe(404);
    expect((await passkeyLogin(client, first)).status).toBe(401);
    expect((await auditEntries(user.id)).filter((e) => e.action === "passkey_removed")).toHaveLength(1);
  });

  it("asks for a recent sign-in before adding or removing a passkey (403), and a refresh does not renew it", async () => {
    const time = clock();
    const client = testClient({ now: time.now });
    const user = await createVerifiedUser(client);
    const auth = await SoftwareAuthenticator.create(BASE);
    expect((await registerPasskey(client, user, auth)).status).toBe(201);

    time.advance(11 * 60_000);
    const refreshed = await client.call("POST", "/auth/refresh", {
      json: { refresh_token: user.tokens.refresh_token },
    });
    expect(refreshed.status).toBe(200);
    const token = refreshed.body.access_token;
    const options = await client.call("POST", "/auth/passkeys/register/options", { token });
    expect(options.status).toBe(403);
    expect(options.body.code).toBe("reauthentication_required");
    const remove = await client.call("DELETE", `/auth/passkeys/${auth.credentialId}`, { token });
    expect(remove.status).toBe(403);
    expect(await withDb((db) => db.passkeys.findById(auth.credentialId))).not.toBeNull();
    // Listing and renaming are not [recent].
    expect((await client.call("GET", "/auth/passkeys", { token })).status).toBe(200);

    // A passkey sign-in is a fresh proof.
    const login = await passkeyLogin(client, auth);
    const fresh = await client.call("POST", "/auth/passkeys/register/options", {
      token: login.body.access_token,
    });
    expect(fresh.status).toBe(200);
  });

  it("answers malformed responses with 4xx problems, never 500", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const bodies: unknown[] = [
      {},
      { response: null },
      { response: { id: "x", rawId: "x", type: "public-key", response: {} } },
      {
        response: {
          id: "x",
          rawId: "x",
          type: "public-key",
          response: { clientDataJSON: "!!", authenticatorData: "", signature: "" },
        },
      },
      {
        response: {
          id: "x",
          rawId: "x",
          type: "public-key",
          response: { clientDataJSON: "e30", authenticatorData: "AA", signature: "AA" },
        },
      },
      {
        response: {
          id: "x",
          rawId: "x",
          type: "public-key",
          response: {
            clientDataJSON: "bm90IGpzb24",
            authenticatorData: "AA",
            signature: "AA",
            userHandle: "AA",
          },
        },
      },
    ];
    for (const json of bodies) {
      const login = await client.call("POST", "/auth/passkeys/login", { json });
      expect([401, 422]).toContain(login.status);
      const reg = await client.call("POST", "/auth/passkeys/register", {
        token: user.tokens.access_token,
        json: {
          response: {
            ...((json as { response?: object }).response ?? {}),
            response: { clientDataJSON: "e30", attestationObject: "oA" },
          },
        },
      });
      expect([400, 422]).toContain(reg.status);
    }
  });

  it("documents every passkey route in the OpenAPI document", async () => {
    const doc = (await testClient().call("GET", "/openapi.json")).body;
    for (const path of [
      "/auth/passkeys/register/options",
      "/auth/passkeys/register",
      "/auth/passkeys",
      "/auth/passkeys/{id}",
      "/auth/passkeys/login/options",
      "/auth/passkeys/login",
    ]) {
      expect(doc.paths[path], path).toBeDefined();
    }
    expect(doc.components.schemas.Passkey.properties.device_type).toBeDefined();
    expect(doc.components.schemas.AuthenticationResponseJSON.example).toBeDefined();
  });
});
