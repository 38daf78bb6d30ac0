import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "./context";
import { AppError, zodFieldErrors } from "./errors";

/** Every feature router validates with the same hook, so a bad body is always the same 422 problem. */
export function createRouter(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw new AppError("validation_error", { errors: zodFieldErrors(result.error) });
    },
  });
}

export const BEARER = [{ bearerAuth: [] }];
