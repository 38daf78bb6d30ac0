/** What the client keeps: the token pair and when the access token expires (ms since the epoch). */
export interface StoredTokens {
  access_token: string;
  refresh_token: string;
  /** Local clock; computed from `expires_in` when the pair arrived, so server clock skew does not matter. */
  expires_at: number;
}

/** Where tokens live. Sync or async, so a Worker can keep them in KV or a Durable Object. */
export interface TokenStorage {
  get(): StoredTokens | null | Promise<StoredTokens | null>;
  set(tokens: StoredTokens | null): void | Promise<void>;
}

/** The default: in memory, gone with the page or the client. Nothing for a script to read later. */
export function memoryStorage(): TokenStorage {
  let tokens: StoredTokens | null = null;
  return {
    get: () => tokens,
    set: (next) => {
      tokens = next;
    },
  };
}

/** The part of the Web Storage API the adapter uses (sessionStorage, localStorage, or a test double). */
export interface WebStorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/**
 * Tokens in Web Storage under `key`. sessionStorage (the default) is per tab and dies with it; prefer it
 * to localStorage, which any script of the origin can read for as long as the user keeps the browser.
 */
export function webStorage(
  storage: WebStorageLike = (globalThis as { sessionStorage?: WebStorageLike }).sessionStorage!,
  key = "edge-auth.tokens",
): TokenStorage {
  if (!storage) throw new TypeError("webStorage: no sessionStorage here; pass a storage");
  return {
    get() {
      const raw = storage.getItem(key);
      if (!raw) return null;
      try {
        const t = JSON.parse(raw) as Partial<StoredTokens>;
        if (typeof t.access_token === "string" && typeof t.refresh_token === "string") {
          return {
            access_token: t.access_token,
            refresh_token: t.refresh_token,
            expires_at: typeof t.expires_at === "number" ? t.expires_at : 0,
          };
        }
      } catch {
        // A corrupt entry is the same as none: sign in again.
      }
      return null;
    },
    set(tokens) {
      if (tokens) storage.setItem(key, JSON.stringify(tokens));
      else storage.removeItem(key);
    },
  };
}

/** sessionStorage of this tab: tokens survive a reload, not the tab. */
export function sessionStorageTokens(key?: string): TokenStorage {
  return webStorage(undefined, key);
}
