import { describe, expect, it } from "vitest";
import { auditActions, auditEntries, createVerifiedUser, database, PASSWORD, testClient } from "../helpers";
import { codeForStep, currentCode, freezeClock, passwordStep, STEP_MS, verify } from "./support";

describe("2FA enrolment", () => {
  it("setup returns a pending base32 secret, its otpauth URL and an SVG QR code", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const res = await client.call("POST", "/auth/2fa/setup", { token: user.tokens.access_token });
    expect(res.status).toBe(200);
    expect(res.headers.get("Cache-Control")).toBe("no-store");
    expect(Object.keys(res.body).sort()).toEqual(["otpauth_url", "qr_svg", "secret"]);
    expect(res.body.secret).toMatch(/^[A-Z2-7]{32}$/); // 160 bits
    const url = new URL(res.body.otpauth_url);
    expect(url.protocol).toBe("otpauth:");
    expect(res.body.otpauth_url).toMatch(
      new RegExp(`^otpauth://totp/edge-auth:${encodeURIComponent(user.email).replace(/\./g, "\\.")}\\?`),
    );
    expect(Object.fromEntries(url.searchParams)).toEqual({
      secret: res.body.secret,
      issuer: "edge-auth",
      algorithm: "SHA1",
      digits: "6",
      period: "30",
    });
    expect(res.body.qr_svg).toMatch(/^<svg[\s\S]*<\/svg>\s*$/);
    // Still pending: signing in needs no second factor yet.
    const login = await client.call("POST", "/auth/login", {
      json: { email: user.email, password: PASSWORD },
    });
    expect(login.body.access_token).toEqual(expect.any(String));
    expect(await auditActions(user.id)).toContain("2fa_setup");
  });

  it("stores the secret only encrypted", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const setup = await client.call("POST", "/auth/2fa/setup", { token: user.tokens.access_token });
    const db = database();
    try {
      const state = await db.twoFactor.get(user.id);
      expect(state?.pendingSecretEnc).toMatch(/^v1\./);
      expect(JSON.stringify(state)).not.toContain(setup.body.secret);
    } finally {
      await db.close();
    }
  });

  it("enable needs a pending secret (409) and a valid code for it (400 invalid_code)", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const token = user.tokens.access_token;
    const none = await client.call("POST", "/auth/2fa/enable", { token, json: { code: "123456" } });
    expect(none.status).toBe(409);
    const setup = await client.call("POST", "/auth/2fa/setup", { token });
    const wrongCode = String((Number(currentCode(setup.body.secret)) + 1) % 1_000_000).padStart(6, "0");
    for (const code of [wrongCode, "abc", "1234567"]) {
      const bad = await client.call("POST", "/auth/2fa/enable", { token, json: { code } });
      expect(bad.status).toBe(400);
      expect(bad.body.code).toBe("invalid_code");
    }
    const missing = await client.call("POST", "/auth/2fa/enable", { token, json: {} });
    expect(missing.status).toBe(422);
    const me = await client.call("GET", "/auth/me", { token });
    expect(me.body.two_factor_enabled).toBe(false);
  });

  it("a second setup replaces the pending secret", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const token = user.tokens.access_token;
    const first = await client.call("POST", "/auth/2fa/setup", { token });
    const second = await client.call("POST", "/auth/2fa/setup", { token });
    expect(second.body.secret).not.toBe(first.body.secret);
    const stale = await client.call("POST", "/auth/2fa/enable", {
      token,
      json: { code: currentCode(first.body.secret) },
    });
    expect(stale.status).toBe(400);
    const ok = await client.call("POST", "/auth/2fa/enable", {
      token,
      json: { code: currentCode(second.body.secret) },
    });
    expect(ok.status).toBe(200);
  });

  it("enable returns 10 recovery codes once, turns 2FA on and revokes the other sessions", async () => {
    const clock = freezeClock();
    const client = testClient();
    const user = await createVerifiedUser(client);
    const other = await client.call("POST", "/auth/login", {
      json: { email: user.email, password: PASSWORD },
    });
    const token = user.tokens.access_token;
    const setup = await client.call("POST", "/auth/2fa/setup", { token });
    const res = await client.call("POST", "/auth/2fa/enable", {
      token,
      json: { code: codeForStep(setup.body.secret, clock.step()) },
    });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body)).toEqual(["recovery_codes"]);
    expect(res.body.recovery_codes).toHaveLength(10);
    for (const code of res.body.recovery_codes) expect(code).toMatch(/^[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}$/);

    const me = await client.call("GET", "/auth/me", { token });
    expect(me.status).toBe(200);
    expect(me.body.two_factor_enabled).toBe(true);
    expect((await client.call("GET", "/auth/me", { token: other.body.access_token })).status).toBe(401);
    const refresh = await client.call("POST", "/auth/refresh", {
      json: { refresh_token: other.body.refresh_token },
    });
    expect(refresh.status).toBe(401);

    const again = await client.call("POST", "/auth/2fa/setup", { token });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe("two_factor_already_enabled");
    const reenable = await client.call("POST", "/auth/2fa/enable", {
      token,
      json: { code: codeForStep(setup.body.secret, clock.step()) },
    });
    expect(reenable.status).toBe(409);

    const entries = await auditEntries(user.id);
    expect(entries.find((e) => e.action === "2fa_enabled")?.metadata).toEqual({ sessions: 1 });
  });

  it("never returns or logs the secret or codes after setup", async () => {
    const clock = freezeClock();
    const client = testClient();
    const user = await createVerifiedUser(client);
    const token = user.tokens.access_token;
    const setup = await client.call("POST", "/auth/2fa/setup", { token });
    const secret: string = setup.body.secret;
    const enable = await client.call("POST", "/auth/2fa/enable", {
      token,
      json: { code: codeForStep(secret, clock.step()) },
    });
    const codes: string[] = enable.body.recovery_codes;
    clock.advance(STEP_MS);
    const mfaToken = await passwordStep(client, user.email);
    const signedIn = await verify(client, mfaToken, codeForStep(secret, clock.step()));
    expect(signedIn.status).toBe(200);
    const texts = [
      enable.text,
      (await client.call("GET", "/auth/me", { token })).text,
      (await client.call("GET", "/auth/me", { token: signedIn.body.access_token })).text,
      (await client.call("POST", "/auth/2fa/setup", { token })).text,
    ];
    for (const text of texts) expect(text).not.toContain(secret);
    const metadata = JSON.stringify((await auditEntries(user.id)).map((e) => e.metadata));
    expect(metadata).not.toContain(secret);
    for (const code of codes) expect(metadata).not.toContain(code);
    expect(metadata).not.toContain(codeForStep(secret, clock.step()));
  });
});
