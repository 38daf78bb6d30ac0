import { expect } from "vitest";
import type { EmailMessage } from "../../src/email";
import { type ApiResponse, type TestClient, tokenFromEmail } from "../helpers";
import { rawSql } from "../support/raw-sql";

export interface EmailLogin {
  token: string;
  code: string;
  message: EmailMessage;
}

export function codeFromEmail(message: EmailMessage): string {
  const match = /sign-in code is (\d{6})\b/.exec(message.text);
  if (!match?.[1]) throw new Error(`no code in email: ${message.subject}`);
  return match[1];
}

/** Asks for a sign-in email through the API and reads its link token and code, as the user would. */
export async function requestEmailLogin(client: TestClient, email: string): Promise<EmailLogin> {
  const before = client.mailbox.to(email).length;
  const res = await client.call("POST", "/auth/email-login", { json: { email } });
  expect(res.status).toBe(202);
  const mails = client.mailbox.to(email);
  expect(mails).toHaveLength(before + 1);
  const message = mails[mails.length - 1]!;
  return { token: tokenFromEmail(message), code: codeFromEmail(message), message };
}

export function verifyLink(client: TestClient, token: string): Promise<ApiResponse> {
  return client.call("POST", "/auth/email-login/verify", { json: { token } });
}

export function verifyCode(client: TestClient, email: string, code: string): Promise<ApiResponse> {
  return client.call("POST", "/auth/email-login/verify", { json: { email, code } });
}

/** The pending email sign-ins of an address, straight from the relational store. */
export function pendingRows(emailLower: string): Promise<Record<string, unknown>[]> {
  return rawSql(
    "SELECT token_hash, user_id, email_lower, data, attempts, consumed_at FROM one_time_tokens " +
      "WHERE purpose = 'email_login' AND email_lower = ? ORDER BY created_at",
    [emailLower],
  );
}

/** A different 6-digit code than `code`. */
export function wrongCode(code: string, n = 1): string {
  return String((Number(code) + n) % 1_000_000).padStart(6, "0");
}
