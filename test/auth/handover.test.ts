import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import { hashToken } from "../../src/auth/tokens";
import { auditEntries, createVerifiedUser, database, type TestClient, testClient } from "../helpers";
import { fakeClock } from "../support/clock";
import {
  codeForStep,
  createTwoFactorUser,
  freezeClock,
  passwordStep,
  STEP_MS,
  verify,
} from "../twofactor/support";

const APP = "https://app.example.test/signed-in";
const ENV = { OAUTH_REDIRECT_ALLOWLIST: APP };

const handover = (client: TestClient, token: string, redirect_to: unknown = APP) =>
  client.call("POST", "/auth/handover", { token, json: { redirect_to } });
const exchange = (client: TestClient, code: string) =>
  client.call("POST", "/auth/oauth/exchange", { json: { code } });

function codeOf(location: string): string {
  const url = new URL(location);
  expect(`${url.origin}${url.pathname}`).toBe(APP);
  return url.searchParams.get("code") ?? "";
}

describe("POST /auth/handover (the hosted login page's redirect_to)", () => {
  it("moves the session to the app: the page's tokens die, the code opens a new session once", async () => {
    const client = testClient({}, ENV);
    const user = await createVerifiedUser(client);
    const res = await handover(client, user.tokens.access_token);
    expect(res.status).toBe(200);
    const code = codeOf(res.body.location);
    expect(code.length).toBeGreaterThanOrEqual(32);
    expect(res.body.location).not.toMatch(/eyJ|access_token|refresh_token/);
    // Stored by its hash only.
    const db = database();
    try {
      expect(await db.tokens.peek("sign_in_code", await hashToken(code), new Date())).not.toBeNull();
      expect(await db.tokens.peek("sign_in_code", code, new Date())).toBeNull();
    } finally {
      await db.close();
    }

    // The hosted page's session is over, refresh token included.
    expect((await client.call("GET", "/auth/me", { token: user.tokens.access_token })).status).toBe(401);
    const refresh = await client.call("POST", "/auth/refresh", {
      json: { refresh_token: user.tokens.refresh_token },
    });
    expect(refresh.status).toBe(401);

    const first = await exchange(client, code);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ token_type: "bearer" });
    const me = await client.call("GET", "/auth/me", { token: first.body.access_token });
    expect(me.body.id).toBe(user.id);
    expect((await exchange(client, code)).body.code).toBe("invalid_code");

    const entries = await auditEntries(user.id);
    const handed = entries.find((e) => e.action === "session_handed_over");
    expect(handed?.metadata).toEqual({
      session_id: expect.any(String),
      redirect_origin: "https://app.example.test",
    });
    expect(JSON.stringify(entries)).not.toContain(code);
  });

  it("of 60 parallel hand-overs of one session exactly one gets a code", async () => {
    const client = testClient({}, ENV);
    const user = await createVerifiedUser(client);
    const results = await Promise.all(
      Array.from({ length: 60 }, () => handover(client, user.tokens.access_token)),
    );
    const seen = results
      .map((r) => `${r.status} ${r.status >= 500 ? JSON.stringify(r.body) : ""}`)
      .join("\n");
    const won = results.filter((r) => r.status === 200);
    expect(won, seen).toHaveLength(1);
    // A 503 `storage_unavailable` (a starved machine missed the store's connect deadline) decided nothing;
    // every other loser was told the session is spent.
    const unavailable = results.filter((r) => r.status === 503);
    for (const r of unavailable) expect(JSON.stringify(r.body), seen).toContain("storage_unavailable");
    expect(results.filter((r) => r.status === 401).length + unavailable.length, seen).toBe(59);
    expect((await exchange(client, codeOf(won[0]!.body.location))).status).toBe(200);
    expect((await auditEntries(user.id)).filter((e) => e.action === "session_handed_over")).toHaveLength(1);
  });

  it("refuses a redirect_to outside the allow-list and keeps the session", async () => {
    const client = testClient({}, ENV);
    const user = await createVerifiedUser(client);
    for (const target of [
      "https://evil.example/signed-in",
      "https://app.example.test/signed-in-not",
      "https://app.example.test@evil.example/signed-in",
      `${APP}#frag`,
      "javascript:alert(1)",
      "",
    ]) {
      const res = await handover(client, user.tokens.access_token, target);
      expect(res.status, target).toBe(400);
      expect(res.body.code, target).toBe("invalid_redirect");
    }
    expect((await handover(client, user.tokens.access_token, 42)).status).toBe(422);
    expect((await client.call("GET", "/auth/me", { token: user.tokens.access_token })).status).toBe(200);
  });

  it("an access token without a recent sign-in cannot be traded for a session (403), and nothing is issued", async () => {
    const clock = fakeClock();
    const client = testClient({}, ENV);
    const user = await createVerifiedUser(client);
    clock.advance(601_000);
    // A refresh keeps the session alive but proves nothing.
    const refreshed = await client.call("POST", "/auth/refresh", {
      json: { refresh_token: user.tokens.refresh_token },
    });
    expect(refreshed.status).toBe(200);
    const res = await handover(client, refreshed.body.access_token);
    expect(res.status).toBe(403);
    expect(res.body.code).toBe("reauthentication_required");
    expect((await client.call("GET", "/auth/me", { token: refreshed.body.access_token })).status).toBe(200);
    expect((await auditEntries(user.id)).map((e) => e.action)).not.toContain("session_handed_over");
  });

  it("needs a bearer token", async () => {
    const client = testClient({}, ENV);
    expect((await client.call("POST", "/auth/handover", { json: { redirect_to: APP } })).status).toBe(401);
  });

  it("carries a finished second factor over (no second mfa_required) and the old proof time", async () => {
    const clock = freezeClock();
    const client = testClient({}, ENV);
    const user = await createTwoFactorUser(client);
    clock.advance(STEP_MS);
    const mfaToken = await passwordStep(client, user.email);
    const signedIn = await verify(client, mfaToken, codeForStep(user.secret, clock.step()));
    expect(signedIn.status).toBe(200);
    const authTime = decodeJwt(signedIn.body.access_token).auth_time;
    clock.advance(5_000);

    const res = await handover(client, signedIn.body.access_token);
    expect(res.status).toBe(200);
    clock.advance(5_000);
    const tokens = await exchange(client, codeOf(res.body.location));
    expect(tokens.status).toBe(200);
    expect(tokens.body.mfa_required).toBeUndefined();
    expect(decodeJwt(tokens.body.access_token).auth_time).toBe(authTime);
  });

  it("signing out everywhere after the hand-over also kills the code in flight", async () => {
    const client = testClient({}, ENV);
    const user = await createVerifiedUser(client);
    const other = await client.call("POST", "/auth/login", {
      json: { email: user.email, password: user.password },
    });
    const res = await handover(client, user.tokens.access_token);
    expect(res.status).toBe(200);
    expect((await client.call("POST", "/auth/logout/all", { token: other.body.access_token })).status).toBe(
      204,
    );
    const late = await exchange(client, codeOf(res.body.location));
    expect(late.status).toBe(400);
    expect(late.body.code).toBe("invalid_code");
  });

  it("a code expires after 60 s", async () => {
    const clock = fakeClock();
    const client = testClient({}, ENV);
    const user = await createVerifiedUser(client);
    const res = await handover(client, user.tokens.access_token);
    clock.advance(61_000);
    expect((await exchange(client, codeOf(res.body.location))).body.code).toBe("invalid_code");
  });
});
