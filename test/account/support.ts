import { expect } from "vitest";
import { type TestClient, type TestUser, tokenFromEmail, withDb } from "../helpers";

export { withDb };

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
