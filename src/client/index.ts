// edge-auth/client: the typed client for browsers and Workers. Nothing here imports server code at run
// time (types only), so a browser bundle carries the client alone.
export {
  type ClientOptions,
  createClient,
  EdgeAuthClient,
  type FetchLike,
  type SignInResult,
} from "./client";
export type { ChannelLike } from "./cross-tab";
export { EdgeAuthError, type FieldError } from "./errors";
export {
  memoryStorage,
  type StoredTokens,
  sessionStorageTokens,
  type TokenStorage,
  type WebStorageLike,
  webStorage,
} from "./storage";
export type * from "./types";
