import { expect } from "vitest";
import type { Database } from "../../src/storage/types";
import { database, type TestClient, type TestUser, tokenFromEmail } from "../helpers";

export async function withDb<T>(fn: (db: Database) => Promise<T>): Promise<T> {
  const db = database();
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

/** Asks for a change to `newEmail` and returns the token of the link mailed there. */
export async function requestChange(client: TestClient, user: TestUser, newEmail: string): Promise<string> {
  const res = await client.call("POST", "/auth/email/change", {
    token: user.tokens.access_token,
    json: { new_email: newEmail },
  });
  expect(res.status).toBe(202);
  return tokenFromEmail(client.mailbox.last(newEmail));
}

export function confirm(client: TestClient, token: string) {
  return client.call("POST", "/auth/email/change/confirm", { json: { token } });
}
