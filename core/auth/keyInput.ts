import { z } from 'zod';

const limit = z.number().int().positive().nullable().optional();

/** When a key expires: unix seconds, or an ISO 8601 date; null never. Stored as unix ms. */
const expiresAt = z
  .union([z.number().int().positive(), z.iso.datetime({ offset: true }), z.iso.date()])
  .nullable()
  .optional()
  .transform((value) => (value === undefined || value === null ? value : typeof value === 'number' ? value * 1000 : Date.parse(value)));

const limitFields = {
  rpm: limit,
  tpm: limit,
  max_concurrent: limit,
  daily_tokens: limit,
  monthly_tokens: limit,
};

/** The body of POST /admin/v1/keys (and the options of `llmsvc keys create`). */
export const createKeySchema = z
  .object({
    name: z.string().trim().min(1, 'give the key a name').max(100),
    scope: z.enum(['admin', 'user']).default('user'),
    models: z.array(z.string().min(1)).min(1).default(['*']),
    expires_at: expiresAt,
    /** Cache answers to this key's requests even when sampling is random. */
    cache: z.boolean().default(false),
    ...limitFields,
  })
  .strict();

/** The body of PATCH /admin/v1/keys/{id} (and `llmsvc quota set`): only the fields given change. */
export const updateKeySchema = z
  .object({
    name: z.string().trim().min(1).max(100).optional(),
    models: z.array(z.string().min(1)).min(1).optional(),
    disabled: z.boolean().optional(),
    cache: z.boolean().optional(),
    expires_at: expiresAt,
    ...limitFields,
  })
  .strict();

export type CreateKeyInput = z.output<typeof createKeySchema>;
export type UpdateKeyInput = z.output<typeof updateKeySchema>;
