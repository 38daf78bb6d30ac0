import { z } from "@hono/zod-openapi";
import type { User } from "../storage/types";

export const UserSchema = z
  .object({
    id: z.string(),
    email: z.string(),
    full_name: z.string().nullable(),
    username: z.string().nullable().openapi({ description: "Null for users who never chose one." }),
    role: z.enum(["user", "admin"]),
    is_active: z.boolean(),
    is_verified: z.boolean(),
    two_factor_enabled: z.boolean(),
    providers: z.array(z.string()).openapi({ example: ["password", "google"] }),
    created_at: z.string().openapi({ example: "2026-11-25T08:00:00.000Z" }),
  })
  .openapi("User");

export type UserJson = z.infer<typeof UserSchema>;

/** The only way a user leaves the service: no hash, no 2FA or throttle state. */
export function presentUser(user: User): UserJson {
  return {
    id: user.id,
    email: user.email,
    full_name: user.fullName,
    username: user.username,
    role: user.role,
    is_active: user.isActive,
    is_verified: user.isVerified,
    two_factor_enabled: user.twoFactorEnabled,
    providers: [
      ...(user.passwordHash ? ["password"] : []),
      ...user.oauthProviders,
      ...(user.hasPasskey ? ["passkey"] : []),
    ],
    created_at: user.createdAt.toISOString(),
  };
}
