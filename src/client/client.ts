import { type ChannelLike, CrossTab, defaultChannel, SessionEndedElsewhere } from "./cross-tab";
import { EdgeAuthError, errorFrom } from "./errors";
import { type Body, type FetchLike, isTokenRefused, readJson, request } from "./transport";

export type { FetchLike };

import { memoryStorage, type StoredTokens, type TokenStorage } from "./storage";
import type {
  AuthenticationResponseJSON,
  EmailLoginVerifyRequest,
  LoginRequest,
  MfaChallenge,
  Passkey,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  Reauthenticated,
  ReauthenticateRequest,
  RegisterRequest,
  RegistrationResponseJSON,
  Session,
  TokenResponse,
  User,
} from "./types";

export interface ClientOptions {
  /** The service's base URL (`APP_URL`); with a service binding any URL works, e.g. `https://auth`. */
  baseUrl: string;
  /** Defaults to the global fetch. In a Worker: `(req) => env.AUTH.fetch(req)`. */
  fetch?: FetchLike;
  /** Defaults to memory. `sessionStorageTokens()` keeps a tab signed in across reloads. */
  storage?: TokenStorage;
  /**
   * Coordinates refreshes between tabs holding the same session. Defaults to a BroadcastChannel named
   * after the base URL where the platform has one; `false` turns it off.
   */
  channel?: ChannelLike | false;
  /** Refresh this long before the access token expires instead of waiting for a 401 (default 30 s). */
  refreshMarginSeconds?: number;
  /** Called once when the session is found over (refresh refused, or signed out in another tab). */
  onSessionEnd?: () => void;
}

export type SignInResult =
  | { status: "signed_in"; tokens: TokenResponse }
  | ({ status: "mfa_required" } & Omit<MfaChallenge, "mfa_required">);

const notSignedIn = () => new EdgeAuthError({ code: "unauthorized", status: 401, detail: "Not signed in." });

/**
 * The typed client of the edge-auth API. Calls that need a session send its access token and, when the
 * service refuses it as invalid or expired, refresh once and retry. Refreshes are single-flight: however
 * many calls fail at once, one refresh request is made (and, with the channel, one per session across
 * tabs), so the client never presents a rotated refresh token and never triggers reuse revocation.
 */
export class EdgeAuthClient {
  private readonly base: string;
  private readonly send: FetchLike;
  private readonly storage: TokenStorage;
  private readonly marginMs: number;
  private readonly crossTab: CrossTab | null;
  private inflight: Promise<StoredTokens> | null = null;

  constructor(private readonly options: ClientOptions) {
    this.base = options.baseUrl.replace(/\/+$/, "");
    const f = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.send = f;
    this.storage = options.storage ?? memoryStorage();
    this.marginMs = (options.refreshMarginSeconds ?? 30) * 1000;
    const channel =
      options.channel === false ? null : (options.channel ?? defaultChannel(`edge-auth:${this.base}`));
    this.crossTab = channel
      ? new CrossTab(channel, {
          current: async () => (await this.storage.get())?.refresh_token ?? null,
          adopt: (tokens) => Promise.resolve(this.storage.set(tokens)),
          ended: () => this.endSession(),
        })
      : null;
  }

  // --- Sign-in -----------------------------------------------------------------------------------

  /** POST /auth/register: 202 whether or not the address is known; a verification email is sent. */
  register(body: RegisterRequest): Promise<{ detail: string }> {
    return this.call("POST", "/auth/register", body);
  }

  /** POST /auth/login. A 2FA account answers `mfa_required`: finish with `verifySecondFactor`. */
  login(body: LoginRequest): Promise<SignInResult> {
    return this.signIn("/auth/login", body);
  }

  /** POST /auth/2fa/verify: the `mfa_token` of `login` and a TOTP or recovery code. */
  verifySecondFactor(mfaToken: string, code: string): Promise<SignInResult> {
    return this.signIn("/auth/2fa/verify", { mfa_token: mfaToken, code });
  }

  /** Options for `startAuthentication({ optionsJSON })` of @simplewebauthn/browser. */
  passkeyLoginOptions(): Promise<PublicKeyCredentialRequestOptionsJSON> {
    return this.call("POST", "/auth/passkeys/login/options", {});
  }

  /** POST /auth/passkeys/login with what `startAuthentication` returned. Never `mfa_required`. */
  passkeyLogin(response: AuthenticationResponseJSON): Promise<SignInResult> {
    return this.signIn("/auth/passkeys/login", { response });
  }

  /** POST /auth/email-login: the same 202 for every address; the email has a link and a code. */
  requestEmailLogin(email: string): Promise<{ detail: string }> {
    return this.call("POST", "/auth/email-login", { email });
  }

  /** POST /auth/email-login/verify with the link's token, or the address and the emailed code. */
  verifyEmailLogin(body: EmailLoginVerifyRequest): Promise<SignInResult> {
    return this.signIn("/auth/email-login/verify", body);
  }

  /** POST /auth/oauth/exchange: the one-time `?code=` a `redirect_to` hand-over brought back. */
  exchangeCode(code: string): Promise<SignInResult> {
    return this.signIn("/auth/oauth/exchange", { code });
  }

  /** Takes a token response obtained elsewhere (e.g. from the hosted login page). */
  async setTokens(tokens: TokenResponse): Promise<void> {
    await this.storage.set(this.toStored(tokens));
  }

  async isSignedIn(): Promise<boolean> {
    return (await this.storage.get()) !== null;
  }

  /**
   * Rotates the refresh token now. Single-flight: concurrent calls (and calls that found the access
   * token refused) share one request.
   */
  async refresh(): Promise<StoredTokens> {
    const tokens = await this.storage.get();
    if (!tokens) throw notSignedIn();
    return this.refreshFrom(tokens);
  }

  /** POST /auth/logout (this session), then forgets the tokens, here and in other tabs holding them. */
  async logout(): Promise<void> {
    const before = await this.storage.get();
    if (!before) return;
    try {
      await this.authed("POST", "/auth/logout");
    } catch (err) {
      // Already over (refused access and refresh) is the outcome asked for; anything else is reported.
      if (!(err instanceof EdgeAuthError && err.status === 401)) throw err;
    } finally {
      // The call may have refreshed on the way: tabs hold the pair that is current now.
      const current = await this.storage.get();
      await this.forget(current?.refresh_token ?? before.refresh_token);
    }
  }

  /** POST /auth/logout/all: every session of the user, this one included. */
  async logoutAll(): Promise<void> {
    const tokens = await this.storage.get();
    await this.authed("POST", "/auth/logout/all");
    if (tokens) await this.forget(tokens.refresh_token);
  }

  // --- Signed-in calls ---------------------------------------------------------------------------

  me(): Promise<User> {
    return this.authed("GET", "/auth/me");
  }

  async sessions(): Promise<Session[]> {
    return (await this.authed<{ items: Session[] }>("GET", "/auth/sessions")).items;
  }

  async revokeSession(id: string): Promise<void> {
    await this.authed("DELETE", `/auth/sessions/${encodeURIComponent(id)}`);
  }

  /** POST /auth/reauthenticate: makes the session recently authenticated (sensitive routes need it). */
  reauthenticate(body: ReauthenticateRequest): Promise<Reauthenticated> {
    return this.authed("POST", "/auth/reauthenticate", body);
  }

  /** Options for `startRegistration({ optionsJSON })` (needs recent authentication). */
  passkeyRegistrationOptions(): Promise<PublicKeyCredentialCreationOptionsJSON> {
    return this.authed("POST", "/auth/passkeys/register/options");
  }

  registerPasskey(response: RegistrationResponseJSON, name?: string): Promise<Passkey> {
    return this.authed(
      "POST",
      "/auth/passkeys/register",
      name === undefined ? { response } : { response, name },
    );
  }

  async passkeys(): Promise<Passkey[]> {
    return (await this.authed<{ items: Passkey[] }>("GET", "/auth/passkeys")).items;
  }

  /**
   * Any route of the API with the session's access token (and the same refresh-once-and-retry). 204
   * answers `undefined`. Failures are EdgeAuthError.
   */
  async authed<T = unknown>(method: string, path: string, body?: Body): Promise<T> {
    let tokens = await this.storage.get();
    if (!tokens) throw notSignedIn();
    if (tokens.expires_at - Date.now() <= this.marginMs) tokens = await this.refreshFrom(tokens);
    let res = await request(this.send, this.base, method, path, body, tokens.access_token);
    if (res.status === 401 && (await isTokenRefused(res))) {
      // Another call may have refreshed meanwhile: refreshFrom then answers the stored pair at once.
      const next = await this.refreshFrom(tokens);
      res = await request(this.send, this.base, method, path, body, next.access_token);
    }
    return readJson<T>(res);
  }

  /** Any route without authentication. Failures are EdgeAuthError. */
  async call<T = unknown>(method: string, path: string, body?: Body): Promise<T> {
    return readJson<T>(await request(this.send, this.base, method, path, body));
  }

  /** Closes the cross-tab channel (a long-lived page need not call it). */
  close(): void {
    this.crossTab?.close();
  }

  // --- Internals ---------------------------------------------------------------------------------

  private async signIn(path: string, body: Body): Promise<SignInResult> {
    const answer = await this.call<TokenResponse | MfaChallenge>("POST", path, body);
    if ("mfa_required" in answer && answer.mfa_required) {
      return { status: "mfa_required", mfa_token: answer.mfa_token, expires_in: answer.expires_in };
    }
    const tokens = answer as TokenResponse;
    await this.storage.set(this.toStored(tokens));
    return { status: "signed_in", tokens };
  }

  private refreshFrom(stale: StoredTokens): Promise<StoredTokens> {
    if (this.inflight) return this.inflight;
    const flight = (async () => {
      const current = await this.storage.get();
      // The caller held `stale` and the service refused it; the tokens are gone now because another
      // call's refresh was refused meanwhile (its 401 came back first): the session has ended.
      if (!current) throw sessionOver();
      // Rotated since `stale` was read (by an earlier flight, another tab, or shared storage).
      if (current.refresh_token !== stale.refresh_token) return current;
      const rotate = () => this.rotate(current.refresh_token);
      if (!this.crossTab) return rotate();
      try {
        return await this.crossTab.coordinate(current.refresh_token, rotate);
      } catch (err) {
        if (err instanceof SessionEndedElsewhere) throw sessionOver();
        throw err;
      }
    })();
    this.inflight = flight;
    const clear = () => {
      if (this.inflight === flight) this.inflight = null;
    };
    flight.then(clear, clear);
    return flight;
  }

  private async rotate(refreshToken: string): Promise<StoredTokens> {
    const res = await request(this.send, this.base, "POST", "/auth/refresh", { refresh_token: refreshToken });
    if (!res.ok) {
      const err = await errorFrom(res);
      // 401: the session is over (revoked, expired, or this token was already reused). Anything else
      // (429, 503, a network failure) leaves the tokens in place for a later try.
      if (err.status === 401) {
        await this.crossTab?.ended(refreshToken);
        await this.endSession();
      }
      throw err;
    }
    const stored = this.toStored((await res.json()) as TokenResponse);
    await this.storage.set(stored);
    return stored;
  }

  private async forget(refreshToken: string): Promise<void> {
    await this.storage.set(null);
    await this.crossTab?.ended(refreshToken);
  }

  private async endSession(): Promise<void> {
    await this.storage.set(null);
    this.options.onSessionEnd?.();
  }

  private toStored(t: TokenResponse): StoredTokens {
    return {
      access_token: t.access_token,
      refresh_token: t.refresh_token,
      expires_at: Date.now() + t.expires_in * 1000,
    };
  }
}

const sessionOver = () =>
  new EdgeAuthError({ code: "invalid_token", status: 401, detail: "The session has ended; sign in again." });

export function createClient(options: ClientOptions): EdgeAuthClient {
  return new EdgeAuthClient(options);
}
