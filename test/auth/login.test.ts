import { describe, expect, it, vi } from "vitest";
import * as password from "../../src/auth/password";
import {
  type ApiResponse,
  auditEntries,
  createVerifiedUser,
  PASSWORD,
  testClient,
  uniqueEmail,
} from "../helpers";

// Login is where hashing cost and timing matter: these suites keep the production scrypt hasher.
const scryptClient = () => testClient({ passwords: password.scryptHasher });

describe("login", () => {
  it("returns an OAuth2 token response with no-store", async () => {
    const client = scryptClient();
    const user = await createVerifiedUser(client);
    const res = await client.call("POST", "/auth/login", { json: { email: user.email, password: PASSWORD } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      access_token: expect.any(String),
      refresh_token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      token_type: "bearer",
      expires_in: 1800,
    });
    expect(res.headers.get("Cache-Control")).toBe("no-store");
    const me = await client.call("GET", "/auth/me", { token: res.body.access_token });
    expect(me.status).toBe(200);
    expect(me.body.email).toBe(user.email);
  });

  it("accepts the OAuth2 form (username=&password=) with a case-insensitive email", async () => {
    const client = scryptClient();
    const user = await createVerifiedUser(client);
    const res = await client.call("POST", "/auth/login", {
      form: { username: user.email.toUpperCase(), password: PASSWORD },
    });
    expect(res.status).toBe(200);
    expect(res.body.token_type).toBe("bearer");
  });

  it("answers wrong password and unknown email identically, and hashes for both", async () => {
    const client = scryptClient();
    const user = await createVerifiedUser(client);
    const spy = vi.spyOn(password.scryptHasher, "verify");
    let wrong: ApiResponse;
    let unknown: ApiResponse;
    try {
      wrong = await client.call("POST", "/auth/login", {
        json: { email: user.email, password: "not-the-password" },
      });
      unknown = await client.call("POST", "/auth/login", {
        json: { email: uniqueEmail(), password: PASSWORD },
      });
      expect(spy).toHaveBeenCalledTimes(2);
      expect(spy.mock.calls[1]![1]).toBe(password.DUMMY_HASH);
    } finally {
      spy.mockRestore();
    }
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    const strip = (b: Record<string, unknown>) => ({ ...b, request_id: undefined });
    expect(strip(wrong.body)).toEqual(strip(unknown.body));
    expect(wrong.body.code).toBe("invalid_credentials");
    const entries = await auditEntries(user.id);
    expect(entries.find((e) => e.action === "login_failed")?.metadata).toEqual({
      reason: "bad_password",
      method: "password",
    });
  });

  it("reports an unverified account only after the right password", async () => {
    const client = scryptClient();
    const email = uniqueEmail();
    await client.call("POST", "/auth/register", { json: { email, password: PASSWORD } });
    const wrong = await client.call("POST", "/auth/login", {
      json: { email, password: "wrong-password-here" },
    });
    expect(wrong.status).toBe(401);
    const right = await client.call("POST", "/auth/login", { json: { email, password: PASSWORD } });
    expect(right.status).toBe(403);
    expect(right.body.code).toBe("email_not_verified");
  });

  it("validates the body: 422 for missing fields, 400 for malformed JSON, 415 for other types", async () => {
    const client = scryptClient();
    const missing = await client.call("POST", "/auth/login", { json: { email: "a@example.com" } });
    expect(missing.status).toBe(422);
    expect(missing.body.errors).toEqual([{ path: "password", message: expect.any(String) }]);
    const malformed = await client.call("POST", "/auth/login", {
      body: '{"email": ',
      headers: { "Content-Type": "application/json" },
    });
    expect(malformed.status).toBe(400);
    expect(malformed.body.code).toBe("malformed_json");
    const xml = await client.call("POST", "/auth/login", {
      body: "<a/>",
      headers: { "Content-Type": "text/xml" },
    });
    expect(xml.status).toBe(415);
  });
});
