// Requests in the FastAPI service's shapes: `otp` in the login body, `otp` wherever `code` is.
import { describe, expect, it } from "vitest";
import { auditEntries, createVerifiedUser, PASSWORD, testClient } from "../helpers";
import { codeForStep, createTwoFactorUser, freezeClock, passwordStep, STEP_MS } from "../twofactor/support";

const wrong = (code: string) => String((Number(code) + 500_000) % 1_000_000).padStart(6, "0");

describe("POST /auth/login {email, password, otp}", () => {
  it("answers tokens directly for a valid code, once per step (no replay)", async () => {
    const clock = freezeClock();
    const client = testClient();
    const user = await createTwoFactorUser(client);
    clock.advance(STEP_MS);
    const otp = codeForStep(user.secret, clock.step());
    const res = await client.call("POST", "/auth/login", {
      json: { email: user.email, password: PASSWORD, otp },
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      access_token: expect.any(String),
      refresh_token: expect.any(String),
      token_type: "bearer",
      expires_in: 1800,
    });
    expect((await client.call("GET", "/auth/me", { token: res.body.access_token })).body.id).toBe(user.id);
    const entries = await auditEntries(user.id);
    expect(entries.find((e) => e.action === "login_succeeded" && e.metadata.mfa)?.metadata).toEqual({
      method: "password",
      mfa: true,
    });
    const replay = await client.call("POST", "/auth/login", {
      json: { email: user.email, password: PASSWORD, otp },
    });
    expect(replay.status).toBe(401);
    expect(replay.body.code).toBe("invalid_code");
  });

  it("a wrong code is 401 and counts toward the same lockout as /auth/2fa/verify", async () => {
    const clock = freezeClock();
    const client = testClient();
    const user = await createTwoFactorUser(client);
    clock.advance(STEP_MS);
    const code = codeForStep(user.secret, clock.step());
    for (let i = 0; i < 5; i++) {
      const res = await client.call("POST", "/auth/login", {
        json: { email: user.email, password: PASSWORD, otp: wrong(code) },
      });
      expect(res.status).toBe(401);
    }
    const locked = await client.call("POST", "/auth/login", {
      json: { email: user.email, password: PASSWORD, otp: code },
    });
    expect(locked.status).toBe(429);
    const mfaToken = await passwordStep(client, user.email);
    const verify = await client.call("POST", "/auth/2fa/verify", {
      json: { mfa_token: mfaToken, otp: code },
    });
    expect(verify.status).toBe(429);
    const failed = (await auditEntries(user.id)).filter((e) => e.action === "2fa_failed");
    expect(failed).toHaveLength(5);
  });

  it("a wrong password with a right code is the usual 401 and uses no code", async () => {
    const clock = freezeClock();
    const client = testClient();
    const user = await createTwoFactorUser(client);
    clock.advance(STEP_MS);
    const otp = codeForStep(user.secret, clock.step());
    const bad = await client.call("POST", "/auth/login", {
      json: { email: user.email, password: "wrong-pw", otp },
    });
    expect(bad.status).toBe(401);
    expect(bad.body.code).toBe("invalid_credentials");
    const good = await client.call("POST", "/auth/login", {
      json: { email: user.email, password: PASSWORD, otp },
    });
    expect(good.status).toBe(200);
  });

  it("ignores otp for an account without 2FA", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const res = await client.call("POST", "/auth/login", {
      json: { email: user.email, password: PASSWORD, otp: "123456" },
    });
    expect(res.status).toBe(200);
    expect(res.body.token_type).toBe("bearer");
  });
});

describe("otp wherever code is", () => {
  it("/auth/2fa/verify and /auth/2fa/disable take otp; a body with neither is 422", async () => {
    const clock = freezeClock();
    const client = testClient();
    const user = await createTwoFactorUser(client);
    clock.advance(STEP_MS);
    const mfaToken = await passwordStep(client, user.email);
    const missing = await client.call("POST", "/auth/2fa/verify", { json: { mfa_token: mfaToken } });
    expect(missing.status).toBe(422);
    const res = await client.call("POST", "/auth/2fa/verify", {
      json: { mfa_token: mfaToken, otp: codeForStep(user.secret, clock.step()) },
    });
    expect(res.status).toBe(200);
    clock.advance(STEP_MS);
    const off = await client.call("POST", "/auth/2fa/disable", {
      token: res.body.access_token,
      json: { otp: codeForStep(user.secret, clock.step()) },
    });
    expect(off.status).toBe(200);
    expect(off.body.two_factor_enabled).toBe(false);
  });
});
