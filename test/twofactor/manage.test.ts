import { describe, expect, it } from "vitest";
import { auditActions, auditEntries, createVerifiedUser, PASSWORD, testClient } from "../helpers";
import { codeForStep, createTwoFactorUser, freezeClock, passwordStep, STEP_MS, verify } from "./support";

describe("2FA disable", () => {
  it("with a TOTP code turns 2FA off: 200 user, and sign-in needs the password only", async () => {
    const clock = freezeClock();
    const client = testClient();
    const user = await createTwoFactorUser(client);
    clock.advance(STEP_MS);
    const res = await client.call("POST", "/auth/2fa/disable", {
      token: user.tokens.access_token,
      json: { code: codeForStep(user.secret, clock.step()) },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: user.id, email: user.email, two_factor_enabled: false });
    const login = await client.call("POST", "/auth/login", {
      json: { email: user.email, password: PASSWORD },
    });
    expect(login.body.access_token).toEqual(expect.any(String));
    // The recovery codes went with it.
    const again = await client.call("POST", "/auth/2fa/disable", {
      token: user.tokens.access_token,
      json: { code: user.recoveryCodes[0] },
    });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe("two_factor_not_enabled");
    const entries = await auditEntries(user.id);
    expect(entries.find((e) => e.action === "2fa_disabled")?.metadata).toEqual({ method: "totp" });
  });

  it("with a recovery code", async () => {
    const client = testClient();
    const user = await createTwoFactorUser(client);
    const res = await client.call("POST", "/auth/2fa/disable", {
      token: user.tokens.access_token,
      json: { code: user.recoveryCodes[3] },
    });
    expect(res.status).toBe(200);
    expect(res.body.two_factor_enabled).toBe(false);
    const actions = await auditActions(user.id);
    expect(actions).toContain("recovery_code_used");
    expect(actions).toContain("2fa_disabled");
  });

  it("refuses a wrong or replayed code (400 invalid_code), an account without 2FA (409) and no token (401)", async () => {
    const clock = freezeClock();
    const client = testClient();
    const user = await createTwoFactorUser(client);
    const token = user.tokens.access_token;
    // The code that enabled 2FA was accepted already.
    const replay = await client.call("POST", "/auth/2fa/disable", {
      token,
      json: { code: codeForStep(user.secret, clock.step()) },
    });
    expect(replay.status).toBe(400);
    expect(replay.body.code).toBe("invalid_code");
    const garbage = await client.call("POST", "/auth/2fa/disable", { token, json: { code: "hello" } });
    expect(garbage.status).toBe(400);
    expect((await client.call("GET", "/auth/me", { token })).body.two_factor_enabled).toBe(true);

    const plain = await createVerifiedUser(client);
    const notEnabled = await client.call("POST", "/auth/2fa/disable", {
      token: plain.tokens.access_token,
      json: { code: "123456" },
    });
    expect(notEnabled.status).toBe(409);
    expect(notEnabled.body.code).toBe("two_factor_not_enabled");
    expect((await client.call("POST", "/auth/2fa/disable", { json: { code: "123456" } })).status).toBe(401);
  });
});

describe("2FA recovery codes", () => {
  it("regenerating needs a valid code and replaces the old set", async () => {
    const clock = freezeClock();
    const client = testClient();
    const user = await createTwoFactorUser(client);
    const token = user.tokens.access_token;
    clock.advance(STEP_MS);
    const bad = await client.call("POST", "/auth/2fa/recovery-codes", { token, json: { code: "000000-x" } });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe("invalid_code");

    const res = await client.call("POST", "/auth/2fa/recovery-codes", {
      token,
      json: { code: codeForStep(user.secret, clock.step()) },
    });
    expect(res.status).toBe(200);
    const fresh: string[] = res.body.recovery_codes;
    expect(fresh).toHaveLength(10);
    expect(fresh.filter((c) => user.recoveryCodes.includes(c))).toEqual([]);

    const old = await verify(client, await passwordStep(client, user.email), user.recoveryCodes[0]!);
    expect(old.status).toBe(401);
    expect(old.body.code).toBe("invalid_code");
    const ok = await verify(client, await passwordStep(client, user.email), fresh[0]!);
    expect(ok.status).toBe(200);
    expect(await auditActions(user.id)).toContain("2fa_recovery_codes_regenerated");
  });

  it("a recovery code can authorise regeneration", async () => {
    const client = testClient();
    const user = await createTwoFactorUser(client);
    const res = await client.call("POST", "/auth/2fa/recovery-codes", {
      token: user.tokens.access_token,
      json: { code: user.recoveryCodes[9] },
    });
    expect(res.status).toBe(200);
    expect(res.body.recovery_codes).toHaveLength(10);
  });

  it("answers 409 without 2FA", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const res = await client.call("POST", "/auth/2fa/recovery-codes", {
      token: user.tokens.access_token,
      json: { code: "123456" },
    });
    expect(res.status).toBe(409);
  });
});

describe("OpenAPI", () => {
  it("documents the 2FA routes and the drift window", async () => {
    const client = testClient();
    const doc = await client.call("GET", "/openapi.json");
    for (const path of ["setup", "enable", "disable", "verify", "recovery-codes"]) {
      expect(doc.body.paths[`/auth/2fa/${path}`]?.post).toBeDefined();
    }
    expect(doc.body.paths["/auth/2fa/verify"].post.description).toContain("one step before or after");
  });
});
