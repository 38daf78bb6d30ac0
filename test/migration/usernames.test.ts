// Usernames (kept from the FastAPI service, optional at registration) over HTTP, both backends.
import { describe, expect, it } from "vitest";
import {
  auditEntries,
  database,
  PASSWORD,
  type TestClient,
  testClient,
  tokenFromEmail,
  uniqueEmail,
} from "../helpers";

const uniqueName = (prefix = "u") => `${prefix}_${crypto.randomUUID().slice(0, 12)}`;

async function register(client: TestClient, email: string, username?: string) {
  return client.call("POST", "/auth/register", {
    json: { email, password: PASSWORD, ...(username === undefined ? {} : { username }) },
  });
}

async function verify(client: TestClient, email: string) {
  const res = await client.call("POST", "/auth/verify", {
    json: { token: tokenFromEmail(client.mailbox.last(email)) },
  });
  expect(res.status).toBe(200);
  return res.body;
}

describe("usernames", () => {
  it("is optional on register, shown in the user object, null when none", async () => {
    const client = testClient();
    const email = uniqueEmail();
    const name = uniqueName("Ada");
    expect((await register(client, email, name)).status).toBe(202);
    const user = await verify(client, email);
    expect(user.username).toBe(name);
    const other = uniqueEmail();
    expect((await register(client, other)).status).toBe(202);
    expect((await verify(client, other)).username).toBeNull();
    const db = database();
    try {
      expect((await db.users.findByUsername(name.toUpperCase()))?.email).toBe(email);
    } finally {
      await db.close();
    }
  });

  it("answers 422 to a bad format", async () => {
    const client = testClient();
    for (const bad of ["ab", "has space", "a@b.co", "-leading", "x".repeat(33), "tab\tname"]) {
      const res = await register(client, uniqueEmail(), bad);
      expect(res.status, bad).toBe(422);
      expect(res.headers.get("Content-Type")).toContain("application/problem+json");
    }
  });

  it("answers the same 202 when the username is taken (any case), creates nothing, tells the address", async () => {
    const client = testClient();
    const name = uniqueName("Taken");
    const first = await register(client, uniqueEmail(), name);
    const email = uniqueEmail();
    const second = await register(client, email, name.toUpperCase());
    expect(second.status).toBe(first.status);
    expect(second.body).toEqual(first.body);
    const db = database();
    try {
      expect(await db.users.findByEmail(email)).toBeNull();
    } finally {
      await db.close();
    }
    expect(client.mailbox.last(email).subject).toMatch(/another .* username/);
  });

  it("signs in with the username (any case) in the OAuth2 form field; an @ means an email", async () => {
    const client = testClient();
    const email = uniqueEmail();
    const name = uniqueName("Login");
    await register(client, email, name);
    const user = await verify(client, email);
    const byName = await client.call("POST", "/auth/login", {
      form: { username: name.toUpperCase(), password: PASSWORD },
    });
    expect(byName.status).toBe(200);
    expect(byName.body.token_type).toBe("bearer");
    const byEmail = await client.call("POST", "/auth/login", {
      form: { username: email, password: PASSWORD },
    });
    expect(byEmail.status).toBe(200);
    const wrong = await client.call("POST", "/auth/login", {
      form: { username: name, password: "nope-nope" },
    });
    const unknown = await client.call("POST", "/auth/login", {
      form: { username: uniqueName("nobody"), password: PASSWORD },
    });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect({ ...unknown.body, instance: undefined, request_id: undefined }).toEqual({
      ...wrong.body,
      instance: undefined,
      request_id: undefined,
    });
    const actions = (await auditEntries(user.id)).map((e) => e.action);
    expect(actions.filter((a) => a === "login_succeeded")).toHaveLength(2);
    expect(actions).toContain("login_failed");
    const badEmail = await client.call("POST", "/auth/login", {
      form: { username: "x@", password: PASSWORD },
    });
    expect(badEmail.status).toBe(422);
  });
});
