// Handler settings come from environment variables validated once at cold start (DESIGN §4).
import * as z from './zod';

export class ConfigError extends Error {}

/** The parsed settings of an env shape (`readEnv`'s result). */
export type EnvOf<S extends z.core.$ZodShape> = z.infer<z.ZodMiniObject<S>>;

/** Validates `process.env` against `shape`; the error names every missing or bad variable. */
export function readEnv<S extends z.core.$ZodShape>(shape: S, env: NodeJS.ProcessEnv = process.env): EnvOf<S> {
  const result = z.object(shape).safeParse(env);
  if (!result.success) {
    const fields = result.error.issues.map((i) => `${i.path.join('.')} (${i.message})`).join(', ');
    throw new ConfigError(`invalid function configuration: ${fields}`);
  }
  return result.data;
}

/** Variables shared by most functions. */
export const COMMON_ENV = {
  TABLE_NAME: z.string().check(z.minLength(1)),
  CLUSTER_ID: z.string().check(z.minLength(1)),
} as const;
