// FastAPI tokens during the cut-over (LEGACY_JWT_SECRET until LEGACY_TOKENS_UNTIL), over HTTP, both backends.
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { auditEntries, database, testClient, uniqueEmail } from "../helpers";

const OLD_SECRET = "the-fastapi-service-secret-key-0123456789";
const FUTURE = new Date(Date.now() + 7 * 86_400_000).toISOString();
const legacyEnv = { LEGACY_JWT_SECRET: OLD_SECRET, LEGACY_TOKENS_UNTIL: FUTURE };

async function importedUser(patch: { isActive?: boolean } = {}): Promise<{ id: string; email: string }> {
  const db = database();
  try {
    const email = uniqueEmail("fastapi");
    const id = String(Math.floor(Math.random() * 1e15));
    const user = await db.users.create({
      id,
      email,
      fullName: null,
      username: `old_${id}`,
      passwordHash: null,
      role: "user",
      isVerified: true,
      now: new Date(),
    });
    if (!user) throw new Error("user not created");
    if (patch.isActive === false) await db.users.update(id, { isActive: false }, new Date());
    return { id, email };
  } finally {
    await db.close();
  }
}

/** A token exactly as the FastAPI service minted them: {sub, role, exp, type, jti}, HS256, no iat. */
function oldToken(
  sub: string,
  type: "access" | "refresh",
  { secret = OLD_SECRET, expIn = type === "access" ? 1800 : 7 * 86_400, alg = "HS256" } = {},
): Promise<string> {
  return new SignJWT({ sub, role: "user", type, jti: crypto.randomUUID() })
    .setProtectedHeader({ alg, typ: "JWT" })
    .setExpirationTime(Math.floor(Date.now() / 1000) + expIn)
    .sign(new TextEncoder().encode(secret));
}

describe("legacy access tokens", () => {
  it("work on bearer routes while the cut-over lasts", async () => {
    const user = await importedUser();
    const token = await oldToken(user.id, "access");
    const me = await testClient({}, legacyEnv).call("GET", "/auth/me", { token });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ id: user.id, email: user.email, username: `old_${user.id}` });
  });

  it("never count as recent authentication: a stolen old token cannot enrol 2FA or a passkey", async () => {
    const user = await importedUser();
    // Minted a minute ago, as far as its exp tells: still no proof of a credential to this service.
    const token = await oldToken(user.id, "access", { expIn: 1740 });
    const client = testClient({}, legacyEnv);
    for (const path of ["/auth/2fa/setup", "/auth/passkeys/register/options"]) {
      const res = await client.call("POST", path, { token });
      expect(res.status, path).toBe(403);
      expect(res.body.code, path).toBe("reauthentication_required");
    }
    const db = database();
    try {
      expect(await db.twoFactor.get(user.id)).toMatchObject({ pendingSecretEnc: null });
    } finally {
      await db.close();
    }
  });

  it("are ordinary invalid tokens without the secret, after LEGACY_TOKENS_UNTIL, or with another secret", async () => {
    const user = await importedUser();
    const token = await oldToken(user.id, "access");
    const past = { ...legacyEnv, LEGACY_TOKENS_UNTIL: new Date(Date.now() - 1000).toISOString() };
    for (const env of [{}, past]) {
      const res = await testClient({}, env).call("GET", "/auth/me", { token });
      expect(res.status).toBe(401);
    }
    const forged = await oldToken(user.id, "access", { secret: "not-the-old-secret-at-all-0123456789" });
    expect((await testClient({}, legacyEnv).call("GET", "/auth/me", { token: forged })).status).toBe(401);
  });

  it("are refused when expired, of type refresh, for an unknown or inactive user", async () => {
    const client = testClient({}, legacyEnv);
    const user = await importedUser();
    const inactive = await importedUser({ isActive: false });
    const tokens = [
      await oldToken(user.id, "access", { expIn: -120 }),
      await oldToken(user.id, "refresh"),
      await oldToken("999999999999999999", "access"),
      await oldToken(inactive.id, "access"),
    ];
    for (const token of tokens) expect((await client.call("GET", "/auth/me", { token })).status).toBe(401);
  });

  it("die with a sign-out everywhere made after they were issued", async () => {
    const client = testClient({}, legacyEnv);
    const user = await importedUser();
    const token = await oldToken(user.id, "access");
    const other = await oldToken(user.id, "access");
    expect((await client.call("GET", "/auth/me", { token })).status).toBe(200);
    expect((await client.call("POST", "/auth/logout/all", { token })).status).toBe(204);
    expect((await client.call("GET", "/auth/me", { token: other })).status).toBe(401);
    expect(await auditEntries(user.id)).toEqual(
      expect.arrayContaining([expect.objectContaining({ action: "logout_all" })]),
    );
  });

  it("die with POST /auth/logout: the stolen copy is refused at once; other old tokens keep working", async () => {
    const client = testClient({}, legacyEnv);
    const user = await importedUser();
    const token = await oldToken(user.id, "access");
    const other = await oldToken(user.id, "access");
    expect((await client.call("POST", "/auth/logout", { token })).status).toBe(204);
    const after = await client.call("GET", "/auth/me", { token });
    expect(after.status).toBe(401);
    expect(after.body.code).toBe("invalid_token");
    expect((await client.call("POST", "/auth/logout", { token })).status).toBe(401);
    expect((await client.call("GET", "/auth/me", { token: other })).status).toBe(200);
    const logouts = (await auditEntries(user.id)).filter((e) => e.action === "logout");
    expect(logouts).toHaveLength(1);
    expect(logouts[0]!.metadata).toEqual({ legacy: true });
  });
});

describe("legacy refresh tokens", () => {
  it("give a session that is not recently authenticated, and whose tokens claim no auth_time", async () => {
    const client = testClient({}, legacyEnv);
    const user = await importedUser();
    const exchanged = await client.call("POST", "/auth/refresh", {
      token: await oldToken(user.id, "refresh"),
    });
    expect(exchanged.status).toBe(200);
    const access = exchanged.body.access_token as string;
    const claims = JSON.parse(atob(access.split(".")[1]!.replaceAll("-", "+").replaceAll("_", "/")));
    expect(claims.auth_time).toBeUndefined();
    const setup = await client.call("POST", "/auth/2fa/setup", { token: access });
    expect(setup.status).toBe(403);
    expect(setup.body.code).toBe("reauthentication_required");
    // A refresh of that session does not make it recent either.
    const refreshed = await client.call("POST", "/auth/refresh", {
      json: { refresh_token: exchanged.body.refresh_token },
    });
    expect(refreshed.status).toBe(200);
    expect(
      (await client.call("POST", "/auth/2fa/setup", { token: refreshed.body.access_token })).status,
    ).toBe(403);
  });

  it("are exchanged once (body or bearer) for a new session; a second use is 401", async () => {
    const client = testClient({}, legacyEnv);
    for (const how of ["body", "bearer"] as const) {
      const user = await importedUser();
      const token = await oldToken(user.id, "refresh");
      const send = () =>
        how === "body"
          ? client.call("POST", "/auth/refresh", { json: { refresh_token: token } })
          : client.call("POST", "/auth/refresh", { token });
      const first = await send();
      expect(first.status).toBe(200);
      expect(first.body.token_type).toBe("bearer");
      const me = await client.call("GET", "/auth/me", { token: first.body.access_token });
      expect(me.body.id).toBe(user.id);
      // The new session is one of ours: it rotates like any other.
      const rotated = await client.call("POST", "/auth/refresh", { token: first.body.refresh_token });
      expect(rotated.status).toBe(200);
      expect((await send()).status).toBe(401);
      const actions = (await auditEntries(user.id)).map((e) => e.action);
      expect(actions).toContain("refresh_token_reused");
      const db = database();
      try {
        expect(await db.sessions.listActive(user.id, new Date())).toHaveLength(1);
      } finally {
        await db.close();
      }
    }
  });

  it("two exchanges in parallel: exactly one wins", async () => {
    const client = testClient({}, legacyEnv);
    const user = await importedUser();
    const token = await oldToken(user.id, "refresh");
    const results = await Promise.all(
      Array.from({ length: 4 }, () =>
        client.call("POST", "/auth/refresh", { json: { refresh_token: token } }),
      ),
    );
    expect(results.map((r) => r.status).sort()).toEqual([200, 401, 401, 401]);
    const db = database();
    try {
      expect(await db.sessions.listActive(user.id, new Date())).toHaveLength(1);
    } finally {
      await db.close();
    }
  });

  it("are invalid after LEGACY_TOKENS_UNTIL, and never accepted as access tokens", async () => {
    const user = await importedUser();
    const token = await oldToken(user.id, "refresh");
    const past = { ...legacyEnv, LEGACY_TOKENS_UNTIL: new Date(Date.now() - 1000).toISOString() };
    expect((await testClient({}, past).call("POST", "/auth/refresh", { token })).status).toBe(401);
    const access = await oldToken(user.id, "access");
    const asRefresh = await testClient({}, legacyEnv).call("POST", "/auth/refresh", { token: access });
    expect(asRefresh.status).toBe(401);
  });
});

describe("POST /auth/refresh in the old shape", () => {
  it("takes our own refresh token as a bearer token with no body", async () => {
    const { createVerifiedUser } = await import("../helpers");
    const client = testClient();
    const user = await createVerifiedUser(client);
    const res = await client.call("POST", "/auth/refresh", { token: user.tokens.refresh_token });
    expect(res.status).toBe(200);
    expect(res.body.refresh_token).not.toBe(user.tokens.refresh_token);
    expect((await client.call("POST", "/auth/refresh", {})).status).toBe(422);
  });
});
