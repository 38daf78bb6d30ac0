import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { createApp } from "../src/app";
import { getConfig } from "../src/config";
import type { AppOptions } from "../src/deps";
import type { EmailMessage, EmailSender } from "../src/email";
import { openDatabase, openEphemeral } from "../src/storage";
import type { AuditEntry, Database } from "../src/storage/types";
import { testHasher } from "./support/test-hasher";

export const BASE = "https://auth.example.test";

/** Captures outgoing email so tests can follow links, as a user would. */
export class CapturingEmailSender implements EmailSender {
  readonly sent: EmailMessage[] = [];
  async send(message: EmailMessage): Promise<void> {
    this.sent.push(message);
  }
  to(address: string): EmailMessage[] {
    return this.sent.filter((m) => m.to.toLowerCase() === address.toLowerCase());
  }
  last(address: string): EmailMessage {
    const all = this.to(address);
    const m = all[all.length - 1];
    if (!m) throw new Error(`no email to ${address}`);
    return m;
  }
}

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface CallInit {
  json?: unknown;
  form?: Record<string, string>;
  token?: string;
  headers?: Record<string, string>;
  body?: BodyInit;
}

export interface TestClient {
  mailbox: CapturingEmailSender;
  call<T = any>(method: string, path: string, init?: CallInit): Promise<ApiResponse<T>>;
}

/**
 * A client over a real app (real D1/KV or Postgres/Redis, as configured): email is captured, and
 * passwords go through the cheap test hasher unless the suite passes `{ passwords: scryptHasher }`
 * (suites whose subject is hashing or login do). The worker entry (`exports.default`) always uses scrypt.
 */
export function testClient(options: AppOptions = {}, envOverrides: Record<string, unknown> = {}): TestClient {
  const mailbox = new CapturingEmailSender();
  const app = createApp({ email: mailbox, passwords: testHasher, ...options });
  const testEnv = { ...env, ...envOverrides };
  return {
    mailbox,
    async call(method, path, init = {}) {
      const headers = new Headers(init.headers);
      let body: BodyInit | undefined = init.body;
      if (init.json !== undefined) {
        headers.set("Content-Type", "application/json");
        body = JSON.stringify(init.json);
      } else if (init.form) {
        headers.set("Content-Type", "application/x-www-form-urlencoded");
        body = new URLSearchParams(init.form).toString();
      }
      if (init.token) headers.set("Authorization", `Bearer ${init.token}`);
      const res = await app.request(`${BASE}${path}`, { method, headers, body }, testEnv);
      const text = await res.text();
      let parsed: unknown = text;
      if ((res.headers.get("Content-Type") ?? "").includes("json") && text) parsed = JSON.parse(text);
      return { status: res.status, headers: res.headers, body: parsed as any, text };
    },
  };
}

let counter = 0;
export function uniqueEmail(prefix = "user"): string {
  counter += 1;
  return `${prefix}.${Date.now().toString(36)}.${counter}.${crypto.randomUUID().slice(0, 8)}@example.com`;
}

export const PASSWORD = "Tr0ub4dor&3-horse-battery";

export function tokenFromEmail(message: EmailMessage): string {
  const match = /[?&]token=([A-Za-z0-9_-]+)/.exec(message.text);
  if (!match?.[1]) throw new Error(`no token in email: ${message.subject}`);
  return match[1];
}

export interface TestUser {
  id: string;
  email: string;
  password: string;
  tokens: { access_token: string; refresh_token: string };
}

export async function registerAndVerify(client: TestClient, email = uniqueEmail(), password = PASSWORD) {
  const reg = await client.call("POST", "/auth/register", {
    json: { email, password, full_name: "Test User" },
  });
  expect(reg.status).toBe(202);
  const verified = await client.call("POST", "/auth/verify", {
    json: { token: tokenFromEmail(client.mailbox.last(email)) },
  });
  expect(verified.status).toBe(200);
  return verified.body as { id: string; email: string };
}

export async function createVerifiedUser(client: TestClient, email = uniqueEmail()): Promise<TestUser> {
  const user = await registerAndVerify(client, email);
  const login = await client.call("POST", "/auth/login", { json: { email, password: PASSWORD } });
  expect(login.status).toBe(200);
  return { id: user.id, email, password: PASSWORD, tokens: login.body };
}

/** The same storage the app uses (D1 or Postgres), read directly to prove side effects. */
export function database(): Database {
  return openDatabase(getConfig(env), env);
}

export function ephemeralStore() {
  return openEphemeral(getConfig(env), env);
}

export async function auditEntries(userId: string): Promise<AuditEntry[]> {
  const db = database();
  try {
    return (await db.audit.list({ userId, limit: 100 })).items;
  } finally {
    await db.close();
  }
}

export async function auditActions(userId: string): Promise<string[]> {
  return (await auditEntries(userId)).map((e) => e.action);
}

/** Runs `fn` with a fresh handle on the test database and closes it afterwards. */
export async function withDb<T>(fn: (db: Database) => Promise<T>): Promise<T> {
  const db = database();
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

/** A verified account whose stored password hash is exactly `hash` (imported or earlier formats, or none). */
export async function userWithPasswordHash(
  hash: string | null,
  prefix = "user",
): Promise<{ id: string; email: string }> {
  const email = uniqueEmail(prefix);
  const user = await withDb((db) =>
    db.users.create({
      id: crypto.randomUUID(),
      email,
      fullName: null,
      passwordHash: hash,
      role: "user",
      isVerified: true,
      now: new Date(),
    }),
  );
  if (!user) throw new Error("user not created");
  return { id: user.id, email };
}

/** The password hash stored for an account, read straight from the store. */
export async function storedPasswordHash(id: string): Promise<string | null> {
  return withDb(async (db) => (await db.users.findById(id))?.passwordHash ?? null);
}
