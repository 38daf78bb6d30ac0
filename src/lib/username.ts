import { z } from "@hono/zod-openapi";

/**
 * Usernames chosen at registration: 3–32 letters, digits, `.`, `_` or `-`, starting with a letter or
 * digit. Never an `@`, which is how a login identifier is told apart from an email address. Imported
 * FastAPI usernames are kept as they were when they contain no `@` (scripts/import-fastapi.ts).
 */
export const USERNAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{2,31}$/;

export const UsernameSchema = z
  .string()
  .transform((v) => v.normalize("NFC").trim())
  .refine((v) => USERNAME_PATTERN.test(v), {
    message: "3 to 32 letters, digits, '.', '_' or '-', starting with a letter or digit.",
  })
  .openapi({ type: "string", example: "ada_l" });

/** A login identifier is an email address exactly when it contains `@` (usernames never do). */
export function isEmailIdentifier(identifier: string): boolean {
  return identifier.includes("@");
}
