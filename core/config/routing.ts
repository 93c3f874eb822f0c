import { z } from 'zod';

/** Upstream providers and routes: the parts of the config file that describe where requests may
 *  go besides the local models. Contract (issue 5):
 *  {"providers": [{"id": "up", "type": "openai-compatible", "base_url": "http://…/v1", "api_key_env": "UP_KEY"}],
 *   "routes": [{"model": "team-default", "targets": [{"provider": "up", "model": "x"}, {"provider": "local", "model": "y"}]}]}
 *  `local` is the built-in provider of the models dir. */

export const providerTypes = ['openai', 'anthropic', 'openai-compatible'] as const;
export type ProviderType = (typeof providerTypes)[number];

/** The built-in provider id of the local models (GGUF and ONNX in the models dir). */
export const localProviderId = 'local';

export const redactionKinds = ['email', 'phone', 'card', 'iban', 'ip'] as const;
export type RedactionKind = (typeof redactionKinds)[number];

const milliseconds = z.number().int().positive();

/** Per-target resilience: timeouts, retries, circuit breaker. Defaults suit a LAN or a cloud API. */
export const resilienceSchema = z
  .object({
    /** Time to open the connection. */
    connect_timeout_ms: milliseconds.default(5_000),
    /** Time from sending the request to the first streamed token. */
    first_byte_timeout_ms: milliseconds.default(60_000),
    /** Longest silence between two streamed events. */
    idle_timeout_ms: milliseconds.default(30_000),
    /** Longest wait for a whole answer asked for in one piece (the client did not ask for a stream,
     *  and the provider then does not stream from its upstream); it replaces the first-byte timeout
     *  for such calls. The OpenAI SDK's own default request timeout. */
    response_timeout_ms: milliseconds.default(600_000),
    /** Retries on 429, 5xx and connection errors, with exponential backoff and jitter. */
    max_retries: z.number().int().min(0).max(10).default(2),
    retry_base_ms: milliseconds.default(250),
    retry_max_ms: milliseconds.default(10_000),
    /** Consecutive failures that open the circuit; it stays open this long, then one probe goes through. */
    circuit_failures: z.number().int().positive().default(5),
    circuit_cooldown_ms: milliseconds.default(30_000),
  })
  .strict();

/** One engine of a pool: its OpenAI-compatible base URL and, when it differs from the pool's, its key. */
const poolMemberSchema = z
  .object({
    base_url: z.url(),
    /** Name of the environment variable holding this member's API key (default: the pool's key). */
    api_key_env: z.string().min(1).optional(),
    /** Path of a file holding this member's API key. */
    api_key_file: z.string().min(1).optional(),
  })
  .strict();

/** A provider that is a pool of OpenAI-compatible engines (vLLM, llama-server, Ollama, other
 *  llmsvc nodes) serving the same models: each request goes to the healthy member with the fewest
 *  requests in flight, a conversation prefers the member its prefix hashes to (prompt caching),
 *  and the provider's retries and circuit breaker apply per member. See core/routing/pool. */
export const poolSchema = z
  .object({
    members: z
      .array(poolMemberSchema)
      .min(1, 'give at least one member')
      .refine((members) => new Set(members.map((member) => member.base_url.replace(/\/+$/, ''))).size === members.length, 'two members have the same base_url'),
    /** Characters of a conversation's start (system messages and the first user message; a
     *  completion's prompt) hashed to pick its preferred member; 0: no sticky choice. */
    sticky_prefix_chars: z.number().int().min(0).default(2048),
    /** The preferred member is skipped when it has more than this many requests in flight beyond
     *  the least busy healthy member. */
    sticky_max_extra_outstanding: z.number().int().min(0).default(2),
    health_check: z
      .object({
        /** Resolved against each member's base_url: "models" → <base_url>/models; "/health" → the server's root /health. */
        path: z.string().min(1).default('models'),
        interval_ms: milliseconds.default(5_000),
        /** A check that has no 2xx answer in this time fails. */
        timeout_ms: milliseconds.default(2_000),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export const providerSchema = z
  .object({
    id: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]*$/, 'use lower-case letters, digits, "-" and "_"')
      .refine((id) => id !== localProviderId, `"${localProviderId}" is the built-in provider of the models dir; choose another id`),
    type: z.enum(providerTypes),
    /** Required for openai-compatible; defaults to the vendor's API for openai and anthropic. */
    base_url: z.url().optional(),
    /** Name of the environment variable holding the API key. */
    api_key_env: z.string().min(1).optional(),
    /** Path of a file holding the API key (e.g. a mounted secret). */
    api_key_file: z.string().min(1).optional(),
    /** Model ids this provider serves, listed by GET /v1/models as `<provider>/<model>`. */
    models: z.array(z.string().min(1)).optional(),
    resilience: resilienceSchema.prefault({}),
    /** Several engines behind this one provider id, instead of base_url (openai-compatible only). */
    pool: poolSchema.optional(),
  })
  .strict()
  .refine((provider) => provider.type !== 'openai-compatible' || provider.base_url || provider.pool, {
    message: 'an openai-compatible provider needs base_url (e.g. http://host:8000/v1) or a pool of members',
    path: ['base_url'],
  })
  .refine((provider) => !provider.pool || (provider.type === 'openai-compatible' && !provider.base_url), {
    message: 'a pool belongs to an openai-compatible provider without base_url (each member has its own)',
    path: ['pool'],
  });

const targetSchema = z
  .object({
    provider: z.string().min(1),
    model: z.string().min(1),
    /** Targets with weights share load among themselves (replicas); see core/routing. */
    weight: z.number().positive().optional(),
  })
  .strict();

export const routeSchema = z
  .object({
    /** The public model id clients ask for. */
    model: z.string().min(1),
    targets: z.array(targetSchema).min(1, 'give at least one target'),
    /** Scrub personal data before it reaches a non-local target: true (every kind) or a list of kinds. */
    redact: z.union([z.boolean(), z.array(z.enum(redactionKinds))]).default(false),
    /** Cache answers of this route even when they are not deterministic. */
    cache: z.boolean().default(false),
  })
  .strict();

export type ProviderSettings = z.output<typeof providerSchema>;
export type RouteSettings = z.output<typeof routeSchema>;
export type ResilienceSettings = z.output<typeof resilienceSchema>;
export type PoolSettings = z.output<typeof poolSchema>;

/** JSON from an env var, or the value as it is: env twins of list settings carry JSON. */
export function jsonFromEnv(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value; // fails validation with a clear message
  }
}
