import type { Deps } from "../deps";
import type { User } from "../storage/types";
import { type SecurityNoticeKind, securityNoticeEmail } from "./templates";

export type { SecurityNoticeKind } from "./templates";

/**
 * Tells the account's address that something security-relevant changed (API.md "Security notices").
 * Sent after the answer (deps.defer): a slow mail provider never delays or fails the change itself.
 */
export function sendSecurityNotice(deps: Deps, user: Pick<User, "email">, kind: SecurityNoticeKind): void {
  deps.defer(deps.email.send(securityNoticeEmail(deps.config, user.email, kind)), `security notice: ${kind}`);
}
