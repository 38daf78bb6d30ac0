import { describe, expect, it } from "vitest";
import { auditActions, auditEntries, PASSWORD, testClient } from "../helpers";
import { codeForStep, createTwoFactorUser, freezeClock, passwordStep, STEP_MS, verify } from "./support";

const byFailures = (a: Record<string, unknown>, b: Record<string, unknown>) =>
  Number(a.failures) - Number(b.failures);

const wrong = (code: string) => String((Number(code) + 500_000) % 1_000_000).padStart(6, "0");

describe("2FA sign-in", () => {
  it("password login answers mfa_required; a TOTP code turns the mfa_token into tokens", async () => {
    const clock = freezeClock();
    const client = testClient();
    const user = await createTwoFactorUser(client);
    clock.advance(STEP_MS);
    const mfaToken = await passwordStep(client, user.email);

    const res = await verify(client, mfaToken, codeForStep(user.secret, clock.step()));
    expect(res.status).toBe(200);
    expect(res.headers.get("Cache-Control")).toBe("no-store");
    expect(res.body).toEqual({
      access_token: expect.any(String),
      refresh_token: expect.any(String),
      token_type: "bearer",
      expires_in: 1800,
    });
    const me = await client.call("GET", "/auth/me", { token: res.body.access_token });
    expect(me.body.id).toBe(user.id);
    const refresh = await client.call("POST", "/auth/refresh", {
      json: { refresh_token: res.body.refresh_token },
    });
    expect(refresh.status).toBe(200);
    const entries = await auditEntries(user.id);
    expect(entries.find((e) => e.action === "login_succeeded")?.metadata).toEqual({
      method: "password",
      mfa: true,
    });
  });

  it("the mfa_token is no bearer token, is single-use and expires after 5 minutes", async () => {
    const clock = freezeClock();
    const client = testClient();
    const user = await createTwoFactorUser(client);
    clock.advance(STEP_MS);
    const mfaToken = await passwordStep(client, user.email);
    const asBearer = await client.call("GET", "/auth/me", { token: mfaToken });
    expect(asBearer.status).toBe(401);
    expect((await client.call("POST", "/auth/2fa/setup", { token: mfaToken })).status).toBe(401);
    expect((await client.call("POST", "/auth/refresh", { json: { refresh_token: mfaToken } })).status).toBe(
      401,
    );

    expect((await verify(client, mfaToken, codeForStep(user.secret, clock.step()))).status).toBe(200);
    clock.advance(STEP_MS);
    const reused = await verify(client, mfaToken, codeForStep(user.secret, clock.step()));
    expect(reused.status).toBe(401);
    expect(reused.body.code).toBe("invalid_token");

    const late = await passwordStep(client, user.email);
    clock.advance(5 * 60_000 + 1_000);
    const expired = await verify(client, late, codeForStep(user.secret, clock.step()));
    expect(expired.status).toBe(401);
    expect(expired.body.code).toBe("invalid_token");

    const unknown = await verify(client, "A".repeat(43), codeForStep(user.secret, clock.step()));
    expect(unknown.status).toBe(401);
    expect(unknown.body.code).toBe("invalid_token");
  });

  it("a wrong code answers 401 invalid_code without using up the mfa_token", async () => {
    const clock = freezeClock();
    const client = testClient();
    const user = await createTwoFactorUser(client);
    clock.advance(STEP_MS);
    const mfaToken = await passwordStep(client, user.email);
    const code = codeForStep(user.secret, clock.step());
    for (const bad of [wrong(code), "not-a-code", "0000-0000-0000"]) {
      const res = await verify(client, mfaToken, bad);
      expect(res.status).toBe(401);
      expect(res.body.code).toBe("invalid_code");
    }
    expect((await verify(client, mfaToken, code)).status).toBe(200);
    const entries = await auditEntries(user.id);
    const failed = entries.filter((e) => e.action === "2fa_failed");
    expect(failed).toHaveLength(3);
    // Entries made at the same (frozen) instant have no defined order: compare them sorted.
    expect(failed.map((e) => e.metadata).sort(byFailures)).toEqual([
      { failures: 1, locked: false },
      { failures: 2, locked: false },
      { failures: 3, locked: false },
    ]);
  });

  it("accepts a code of one step before or after now, and rejects two steps away", async () => {
    const clock = freezeClock();
    const client = testClient();
    const user = await createTwoFactorUser(client);
    clock.advance(10 * STEP_MS);
    const now = clock.step();
    const mfaToken = await passwordStep(client, user.email);
    for (const drift of [-2, 2]) {
      const res = await verify(client, mfaToken, codeForStep(user.secret, now + drift));
      expect(res.status).toBe(401);
      expect(res.body.code).toBe("invalid_code");
    }
    expect((await verify(client, mfaToken, codeForStep(user.secret, now - 1))).status).toBe(200);
    const next = await passwordStep(client, user.email);
    expect((await verify(client, next, codeForStep(user.secret, now + 1))).status).toBe(200);
  });

  it("accepts a TOTP code once, and no earlier step after a later one", async () => {
    const clock = freezeClock();
    const client = testClient();
    const user = await createTwoFactorUser(client);
    clock.advance(STEP_MS);
    const code = codeForStep(user.secret, clock.step());
    expect((await verify(client, await passwordStep(client, user.email), code)).status).toBe(200);
    const replay = await verify(client, await passwordStep(client, user.email), code);
    expect(replay.status).toBe(401);
    expect(replay.body.code).toBe("invalid_code");
    // The previous step is inside the drift window, but older than the accepted one.
    const earlier = await verify(
      client,
      await passwordStep(client, user.email),
      codeForStep(user.secret, clock.step() - 1),
    );
    expect(earlier.status).toBe(401);
  });

  it("of 10 parallel sign-ins with the same code exactly one succeeds", async () => {
    const clock = freezeClock();
    const client = testClient();
    const user = await createTwoFactorUser(client);
    clock.advance(STEP_MS);
    const tokens = await Promise.all(Array.from({ length: 10 }, () => passwordStep(client, user.email)));
    const code = codeForStep(user.secret, clock.step());
    const results = await Promise.all(tokens.map((t) => verify(client, t, code)));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    // The losers were refused as replays (401), or, once five had failed, by the lockout (429).
    for (const s of statuses) expect([200, 401, 429]).toContain(s);
  });

  it("of 10 parallel verifies with one mfa_token exactly one succeeds", async () => {
    const clock = freezeClock();
    const client = testClient();
    const user = await createTwoFactorUser(client);
    clock.advance(STEP_MS);
    const mfaToken = await passwordStep(client, user.email);
    const code = codeForStep(user.secret, clock.step());
    const results = await Promise.all(Array.from({ length: 10 }, () => verify(client, mfaToken, code)));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
  });

  it("a recovery code signs in once, in any case and with or without dashes", async () => {
    const clock = freezeClock();
    const client = testClient();
    const user = await createTwoFactorUser(client);
    clock.advance(STEP_MS);
    const [first, second] = user.recoveryCodes;
    const loose = first!.toUpperCase().replace(/-/g, " ");
    const res = await verify(client, await passwordStep(client, user.email), loose);
    expect(res.status).toBe(200);
    const again = await verify(client, await passwordStep(client, user.email), first!);
    expect(again.status).toBe(401);
    expect(again.body.code).toBe("invalid_code");
    expect(
      (await verify(client, await passwordStep(client, user.email), second!.replace(/-/g, ""))).status,
    ).toBe(200);
    const used = (await auditEntries(user.id)).filter((e) => e.action === "recovery_code_used");
    expect(used.map((e) => e.metadata.remaining).sort()).toEqual([8, 9]);
  });

  it("locks verify for 15 minutes after 5 wrong codes, even with the right code or a new password login", async () => {
    const clock = freezeClock();
    const client = testClient();
    const user = await createTwoFactorUser(client);
    clock.advance(STEP_MS);
    const mfaToken = await passwordStep(client, user.email);
    const code = codeForStep(user.secret, clock.step());
    for (let i = 0; i < 5; i++) expect((await verify(client, mfaToken, wrong(code))).status).toBe(401);

    const locked = await verify(client, mfaToken, code);
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get("Retry-After"))).toBeGreaterThan(14 * 60);
    expect(Number(locked.headers.get("Retry-After"))).toBeLessThanOrEqual(15 * 60);

    const fresh = await passwordStep(client, user.email);
    expect((await verify(client, fresh, code)).status).toBe(429);

    clock.advance(15 * 60_000);
    const later = await passwordStep(client, user.email);
    expect((await verify(client, later, codeForStep(user.secret, clock.step()))).status).toBe(200);
    const entries = await auditEntries(user.id);
    const failed = entries.filter((e) => e.action === "2fa_failed").map((e) => e.metadata);
    expect(failed.sort(byFailures).map((m) => m.failures)).toEqual([1, 2, 3, 4, 5]);
    expect(failed[4]).toEqual({ failures: 5, locked: true });
    expect(await auditActions(user.id)).toContain("login_succeeded");
  });

  it("a successful verify clears the failure count", async () => {
    const clock = freezeClock();
    const client = testClient();
    const user = await createTwoFactorUser(client);
    for (let round = 0; round < 2; round++) {
      clock.advance(STEP_MS);
      const mfaToken = await passwordStep(client, user.email);
      const code = codeForStep(user.secret, clock.step());
      for (let i = 0; i < 4; i++) expect((await verify(client, mfaToken, wrong(code))).status).toBe(401);
      expect((await verify(client, mfaToken, code)).status).toBe(200);
    }
  });

  it("a bad body is 422, and a 2FA login with the form still gets a challenge", async () => {
    const client = testClient();
    const user = await createTwoFactorUser(client);
    expect((await client.call("POST", "/auth/2fa/verify", { json: { code: "123456" } })).status).toBe(422);
    const form = await client.call("POST", "/auth/login", {
      form: { username: user.email, password: PASSWORD },
    });
    expect(form.body.mfa_required).toBe(true);
  });
});
