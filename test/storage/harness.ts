import { afterEach, beforeEach } from "vitest";
import type { Database, EphemeralStore, NewUser, User } from "../../src/storage/types";

/**
 * How a contract suite reaches a backend. `open()` returns a new handle each call (for Postgres, a new
 * connection), so the concurrency cases race real connections instead of one client's queue.
 */
export interface DatabaseFactory {
  open(): Database;
}

export interface EphemeralFactory {
  open(): EphemeralStore;
}

export const tag = (): string => crypto.randomUUID().slice(0, 8);

export function newUser(overrides: Partial<NewUser> = {}): NewUser {
  return {
    id: crypto.randomUUID(),
    email: `user-${crypto.randomUUID()}@example.test`,
    fullName: null,
    passwordHash: "hash",
    role: "user",
    isVerified: true,
    now: new Date("2026-11-25T08:00:00.000Z"),
    ...overrides,
  };
}

export async function createUser(db: Database, overrides: Partial<NewUser> = {}): Promise<User> {
  const user = await db.users.create(newUser(overrides));
  if (!user) throw new Error("test user could not be created");
  return user;
}

/** Opens `n` handles, runs `fn`, closes them whatever happens. */
export async function withHandles<T>(
  factory: DatabaseFactory,
  n: number,
  fn: (handles: Database[]) => Promise<T>,
): Promise<T> {
  const handles = Array.from({ length: n }, () => factory.open());
  try {
    return await fn(handles);
  } finally {
    await Promise.all(handles.map((h) => h.close()));
  }
}

/** `count` calls spread round-robin over `handles`, all started at once. */
export function race<T>(handles: Database[], count: number, call: (db: Database, i: number) => Promise<T>) {
  return Promise.all(Array.from({ length: count }, (_, i) => call(handles[i % handles.length]!, i)));
}

export const at = (iso: string): Date => new Date(iso);
export const plus = (d: Date, ms: number): Date => new Date(d.getTime() + ms);

/**
 * One handle per test, opened before it and closed after it whatever happens: the boilerplate every
 * contract suite shares. Returns the current test's handle.
 */
export function useDatabase(factory: DatabaseFactory): () => Database {
  let db: Database | undefined;
  beforeEach(() => {
    db = factory.open();
  });
  afterEach(async () => {
    await db?.close();
    db = undefined;
  });
  return () => {
    if (!db) throw new Error("the database handle exists only inside a test");
    return db;
  };
}

export function useEphemeral(factory: EphemeralFactory): () => EphemeralStore {
  let store: EphemeralStore | undefined;
  beforeEach(() => {
    store = factory.open();
  });
  afterEach(async () => {
    await store?.close();
    store = undefined;
  });
  return () => {
    if (!store) throw new Error("the ephemeral store exists only inside a test");
    return store;
  };
}
