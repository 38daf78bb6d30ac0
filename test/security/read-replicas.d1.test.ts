import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createVerifiedUser, PASSWORD, type TestClient, testClient, uniqueEmail } from "../helpers";
import { RecordingD1 } from "../support/recording-d1";
import { setRole } from "../users/admin-helpers";

// D1_READ_REPLICAS=true: which kind of D1 session (Sessions API, implemented by Miniflare) each route's
// statements go through, and what a lagging replica can and cannot do. D1 only: Postgres has no replicas.

function replicated(enabled = true): { client: TestClient; d1: RecordingD1 } {
  const d1 = new RecordingD1(env.DB);
  const client = testClient({}, { DB: d1.binding, D1_READ_REPLICAS: enabled ? "true" : "false" });
  return { client, d1 };
}

describe("D1 read replicas", () => {
  it("serves read-only routes from a replica-tolerant session, authentication included", async () => {
    const { client, d1 } = replicated();
    const admin = await createVerifiedUser(client);
    await setRole(admin.id, "admin");
    const token = admin.tokens.access_token;
    const routes = [
      "/auth/me",
      "/auth/sessions",
      "/auth/passkeys",
      "/users",
      "/users/",
      `/users/${admin.id}`,
      `/users/${admin.id}/logs`,
      `/audit/users/${admin.id}`,
      "/audit",
    ];
    for (const path of routes) {
      d1.clear();
      const res = await client.call("GET", path, { token });
      expect(res.status, path).toBe(200);
      // Every statement, the session-and-account read of requireAuth first, on the unconstrained session.
      expect(d1.routes(), path).toEqual(["first-unconstrained"]);
      expect(d1.sessions, path).toEqual(["first-unconstrained"]);
      expect(d1.statements.length, path).toBeGreaterThanOrEqual(1);
    }
  });

  it("runs every route that writes, or is not declared replica-tolerant, on the primary", async () => {
    const { client, d1 } = replicated();
    const admin = await createVerifiedUser(client);
    await setRole(admin.id, "admin");
    const other = await createVerifiedUser(client);
    const signIn = () =>
      client.call("POST", "/auth/login", { json: { email: other.email, password: PASSWORD } });
    await signIn();
    const sessions = await client.call("GET", "/auth/sessions", { token: other.tokens.access_token });
    const secondId = sessions.body.items.find((s: { current: boolean }) => !s.current)?.id as string;
    expect(secondId).toBeTruthy();
    const third = await signIn();

    const calls: [string, string, Parameters<TestClient["call"]>[2]][] = [
      ["POST", "/auth/login", { json: { email: admin.email, password: PASSWORD } }],
      ["POST", "/auth/refresh", { json: { refresh_token: admin.tokens.refresh_token } }],
      ["PATCH", `/users/${other.id}`, { token: admin.tokens.access_token, json: { role: "user" } }],
      ["GET", "/audit/verify", { token: admin.tokens.access_token }],
      ["DELETE", `/auth/sessions/${secondId}`, { token: other.tokens.access_token }],
      ["POST", "/auth/logout", { token: third.body.access_token }],
      ["POST", "/auth/logout/all", { token: other.tokens.access_token }],
    ];
    for (const [method, path, init] of calls) {
      d1.clear();
      const res = await client.call(method, path, init);
      expect(res.status, `${method} ${path}`).toBeLessThan(300);
      expect(d1.routes(), `${method} ${path}`).toEqual(["first-primary"]);
      expect(d1.sessions, `${method} ${path}`).not.toContain("first-unconstrained");
    }
  });

  it("keeps a non-GET request on the primary even on a replica-tolerant path", async () => {
    const { client, d1 } = replicated();
    const user = await createVerifiedUser(client);
    d1.clear();
    // HEAD is a read; Hono answers it with the GET route.
    expect((await client.call("HEAD", "/auth/me", { token: user.tokens.access_token })).status).toBe(200);
    expect(d1.routes()).toEqual(["first-unconstrained"]);
    d1.clear();
    // No route answers POST /auth/me, but nothing on the way may pick the replica either.
    await client.call("POST", "/auth/me", { token: user.tokens.access_token, json: {} });
    expect(d1.sessions).not.toContain("first-unconstrained");
  });

  it("uses the plain binding, no D1 session at all, when D1_READ_REPLICAS is off", async () => {
    const { client, d1 } = replicated(false);
    const user = await createVerifiedUser(client);
    d1.clear();
    expect((await client.call("GET", "/auth/me", { token: user.tokens.access_token })).status).toBe(200);
    expect((await client.call("POST", "/auth/logout/all", { token: user.tokens.access_token })).status).toBe(
      204,
    );
    expect(d1.sessions).toEqual([]);
    expect(d1.routes()).toEqual(["binding"]);
  });

  it("checks a replica's refusal on the primary: a sign-in the replica has not seen is accepted", async () => {
    const { client, d1 } = replicated();
    const email = uniqueEmail();
    const user = await createVerifiedUser(client, email);
    d1.freeze();
    // The replica lags: it has never seen this session, so it answers no row...
    const fresh = await client.call("POST", "/auth/login", { json: { email, password: PASSWORD } });
    d1.clear();
    const me = await client.call("GET", "/auth/me", { token: fresh.body.access_token });
    // ...and the primary, asked second, decides.
    expect(me.status).toBe(200);
    expect(me.body.id).toBe(user.id);
    expect(d1.routes()).toEqual(["first-unconstrained", "first-primary"]);
  });

  it("lets a revoked session read replica-tolerant routes only within the replica's lag, and never write", async () => {
    const { client, d1 } = replicated();
    const user = await createVerifiedUser(client);
    const token = user.tokens.access_token;
    expect((await client.call("GET", "/auth/me", { token })).status).toBe(200);
    d1.freeze();
    // Signed out everywhere on the primary; the frozen replica still holds the live session row.
    expect((await client.call("POST", "/auth/logout/all", { token })).status).toBe(204);

    // The documented trade-off: a replica-tolerant read passes until the replica catches up.
    const stale = await client.call("GET", "/auth/me", { token });
    expect(stale.status).toBe(200);
    // Anything that changes state authenticates on the primary, where the session is revoked.
    for (const [method, path] of [
      ["POST", "/auth/logout"],
      ["POST", "/auth/logout/all"],
      ["POST", "/auth/reauthenticate"],
    ] as const) {
      d1.clear();
      const res = await client.call(method, path, { token, json: { password: PASSWORD } });
      expect(res.status, path).toBe(401);
      expect(res.body.code).toBe("invalid_token");
      expect(d1.sessions).not.toContain("first-unconstrained");
    }
  });
});
