import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import {
  createVerifiedUser,
  database,
  ephemeralStore,
  PASSWORD,
  type TestClient,
  type TestUser,
  testClient,
  tokenFromEmail,
} from "../helpers";
import { createAdmin } from "../users/admin-helpers";

/**
 * What a location that has not yet seen a KV write looks like (KV takes up to 60 s): no denylist key for
 * the token. Nothing writes one any more; revocation must hold anyway, because the relational store
 * decides it.
 */
async function expectNothingInKv(accessToken: string): Promise<void> {
  const { sid, jti } = decodeJwt(accessToken) as { sid: string; jti: string };
  const kv = ephemeralStore();
  try {
    expect(await kv.getMany([`revoked:sid:${sid}`, `revoked:jti:${jti}`])).toEqual([null, null]);
  } finally {
    await kv.close();
  }
}

async function sessionRevokedAt(accessToken: string): Promise<Date | null> {
  const { sid } = decodeJwt(accessToken) as { sid: string };
  const db = database();
  try {
    return (await db.sessions.findById(sid))?.revokedAt ?? null;
  } finally {
    await db.close();
  }
}

async function expectRevoked(client: TestClient, user: TestUser): Promise<void> {
  expect(await sessionRevokedAt(user.tokens.access_token)).toBeInstanceOf(Date);
  await expectNothingInKv(user.tokens.access_token);
  const me = await client.call("GET", "/auth/me", { token: user.tokens.access_token });
  expect(me.status).toBe(401);
  expect(me.body.code).toBe("invalid_token");
}

describe("revocation is decided by the relational store, whatever KV/Redis holds", {
  timeout: 60_000,
}, () => {
  it("logout", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    expect((await client.call("POST", "/auth/logout", { token: user.tokens.access_token })).status).toBe(204);
    await expectRevoked(client, user);
  });

  it("logout everywhere", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const other = await client.call("POST", "/auth/login", {
      json: { email: user.email, password: PASSWORD },
    });
    const res = await client.call("POST", "/auth/logout/all", { token: other.body.access_token });
    expect(res.status).toBe(204);
    await expectRevoked(client, user);
    await expectRevoked(client, { ...user, tokens: other.body });
  });

  it("revoking one session from another", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const other = await client.call("POST", "/auth/login", {
      json: { email: user.email, password: PASSWORD },
    });
    const { sid } = decodeJwt(user.tokens.access_token) as { sid: string };
    const res = await client.call("DELETE", `/auth/sessions/${sid}`, { token: other.body.access_token });
    expect(res.status).toBe(204);
    await expectRevoked(client, user);
    expect((await client.call("GET", "/auth/me", { token: other.body.access_token })).status).toBe(200);
  });

  it("password reset", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    await client.call("POST", "/auth/password/forgot", { json: { email: user.email } });
    const reset = await client.call("POST", "/auth/password/reset", {
      json: {
        token: tokenFromEmail(client.mailbox.last(user.email)),
        new_password: "a-new-long-passphrase-9",
      },
    });
    expect(reset.status).toBe(200);
    await expectRevoked(client, user);
  });

  it("admin deactivation, even after the account is reactivated", async () => {
    const client = testClient();
    const admin = await createAdmin(client);
    const user = await createVerifiedUser(client);
    const patch = (is_active: boolean) =>
      client.call("PATCH", `/users/${user.id}`, { token: admin.tokens.access_token, json: { is_active } });
    expect((await patch(false)).status).toBe(200);
    expect((await patch(true)).status).toBe(200);
    await expectRevoked(client, user);
  });

  it("refresh-token reuse", async () => {
    const client = testClient();
    const user = await createVerifiedUser(client);
    const first = await client.call("POST", "/auth/refresh", {
      json: { refresh_token: user.tokens.refresh_token },
    });
    expect(first.status).toBe(200);
    // Outside the 10 s grace window the old token is a reuse; inside it a second rotation of the new one
    // makes the original token "older than previous".
    const second = await client.call("POST", "/auth/refresh", {
      json: { refresh_token: first.body.refresh_token },
    });
    expect(second.status).toBe(200);
    const reuse = await client.call("POST", "/auth/refresh", {
      json: { refresh_token: user.tokens.refresh_token },
    });
    expect(reuse.status).toBe(401);
    await expectRevoked(client, user);
    await expectRevoked(client, { ...user, tokens: second.body });
  });
});
