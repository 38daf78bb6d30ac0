import { decodeJwt } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  auditActions,
  auditEntries,
  createVerifiedUser,
  database,
  PASSWORD,
  type TestClient,
  testClient,
} from "../helpers";
import { currentCode, freezeClock, STEP_MS } from "../twofactor/support";

const WINDOW_MS = 600_000;

afterEach(() => {
  vi.useRealTimers();
});

const setup = (client: TestClient, token: string) => client.call("POST", "/auth/2fa/setup", { token });
const reauth = (client: TestClient, token: string, json: unknown) =>
  client.call("POST", "/auth/reauthenticate", { token, json });

describe("recent authentication", { timeout: 60_000 }, () => {
  it("a sign-in is recent for REAUTH_WINDOW_SECONDS; a refresh does not renew it; reauthenticating does", async () => {
    const clock = freezeClock();
    const client = testClient();
    const user = await createVerifiedUser(client);
    const signedInAt = Math.floor(clock.now() / 1000);
    expect(decodeJwt(user.tokens.access_token).auth_time).toBe(signedInAt);
    expect((await setup(client, user.tokens.access_token)).status).toBe(200);

    clock.advance(WINDOW_MS + 1000);
    const stale = await setup(client, user.tokens.access_token);
    expect(stale.status).toBe(403);
    expect(stale.body.code).toBe("reauthentication_required");
    expect(stale.headers.get("Content-Type")).toBe("application/problem+json; charset=utf-8");

    // A refreshed token is a new token, not a new proof: same auth_time, still not recent.
    const refreshed = await client.call("POST", "/auth/refresh", {
      json: { refresh_token: user.tokens.refresh_token },
    });
    expect(refreshed.status).toBe(200);
    expect(decodeJwt(refreshed.body.access_token).auth_time).toBe(signedInAt);
    expect((await setup(client, refreshed.body.access_token)).status).toBe(403);

    const wrong = await reauth(client, refreshed.body.access_token, { password: "not-the-password-1" });
    expect(wrong.status).toBe(401);
    expect(wrong.body.code).toBe("invalid_credentials");
    expect((await setup(client, refreshed.body.access_token)).status).toBe(403);

    const ok = await reauth(client, refreshed.body.access_token, { password: PASSWORD });
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ reauthenticated_until: new Date(clock.now() + WINDOW_MS).toISOString() });
    // The proof belongs to the session: a token issued before it counts too.
    expect((await setup(client, user.tokens.access_token)).status).toBe(200);
    const { sid } = decodeJwt(user.tokens.access_token) as { sid: string };
    const db = database();
    try {
      expect((await db.sessions.findById(sid))?.authenticatedAt?.getTime()).toBe(clock.now());
    } finally {
      await db.close();
    }
    expect(await auditActions(user.id)).toEqual(expect.arrayContaining(["reauthenticated", "login_failed"]));

    clock.advance(WINDOW_MS);
    expect((await setup(client, user.tokens.access_token)).status).toBe(403);
  });

  it("guards every 2FA management route, and the window is configurable", async () => {
    const clock = freezeClock();
    const client = testClient({}, { REAUTH_WINDOW_SECONDS: "60" });
    const user = await createVerifiedUser(client);
    clock.advance(61_000);
    const token = user.tokens.access_token;
    for (const path of [
      "/auth/2fa/setup",
      "/auth/2fa/enable",
      "/auth/2fa/disable",
      "/auth/2fa/recovery-codes",
    ]) {
      const res = await client.call("POST", path, {
        token,
        json: path.endsWith("setup") ? undefined : { code: "123456" },
      });
      expect([path, res.status, res.body.code]).toEqual([path, 403, "reauthentication_required"]);
    }
    // Nothing was enrolled by the stolen-token attempt.
    expect(await auditActions(user.id)).not.toContain("2fa_setup");
  });

  it("takes exactly one credential", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const token = user.tokens.access_token;
    expect((await reauth(client, token, {})).status).toBe(422);
    expect((await reauth(client, token, { password: PASSWORD, code: "123456" })).status).toBe(422);
    expect((await client.call("POST", "/auth/reauthenticate", { json: { password: PASSWORD } })).status).toBe(
      401,
    );
  });

  it("wrong credentials count toward the account throttle shared with login", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) {
      statuses.push(
        (await reauth(client, user.tokens.access_token, { password: `wrong-${i}-guess` })).status,
      );
    }
    expect(statuses).toEqual([...Array(10).fill(401), 429]);
    const right = await reauth(client, user.tokens.access_token, { password: PASSWORD });
    expect(right.status).toBe(429);
    expect(Number(right.headers.get("Retry-After"))).toBeGreaterThan(0);
    const login = await client.call("POST", "/auth/login", {
      json: { email: user.email, password: PASSWORD },
    });
    expect(login.status).toBe(429);
    const failed = (await auditEntries(user.id)).filter((e) => e.action === "login_failed");
    expect(failed).toHaveLength(10);
    expect(JSON.stringify(failed)).not.toContain("wrong-");
  });

  it("an account without a password reauthenticates with a TOTP code; a password account cannot use one", async () => {
    const clock = freezeClock();
    const client = testClient();
    const user = await createVerifiedUser(client);
    const enrol = await setup(client, user.tokens.access_token);
    const secret = enrol.body.secret as string;
    const enabled = await client.call("POST", "/auth/2fa/enable", {
      token: user.tokens.access_token,
      json: { code: currentCode(secret) },
    });
    expect(enabled.status).toBe(200);
    clock.advance(WINDOW_MS + STEP_MS);

    // With a password, the password is what is asked for.
    expect((await reauth(client, user.tokens.access_token, { code: currentCode(secret) })).status).toBe(401);

    const db = database();
    try {
      await db.users.update(user.id, { passwordHash: null }, new Date());
    } finally {
      await db.close();
    }
    clock.advance(STEP_MS);
    expect((await reauth(client, user.tokens.access_token, { password: PASSWORD })).status).toBe(401);
    const ok = await reauth(client, user.tokens.access_token, { code: currentCode(secret) });
    expect(ok.status).toBe(200);
    const codes = await client.call("POST", "/auth/2fa/recovery-codes", {
      token: user.tokens.access_token,
      json: { code: enabled.body.recovery_codes[0] },
    });
    expect(codes.status).toBe(200);
  });
});
