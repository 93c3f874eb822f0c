import fs from 'node:fs';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';

/** Validates response bodies against OpenAI's own OpenAPI schemas (../shared/specs). */
const specPath = process.env.LLMSVC_OPENAPI_SPEC ?? path.resolve(import.meta.dirname, '../../../shared/specs/openai-openapi.json');
const spec = JSON.parse(fs.readFileSync(specPath, 'utf8')) as { components: { schemas: Record<string, unknown> } };

// OpenAPI 3.1 schemas are JSON Schema 2020-12 plus vendor keywords (x-oaiMeta, discriminator…),
// which strict mode would reject; formats such as "unixtime" are OpenAI's own and not checked.
/** `nullable` is OpenAPI 3.0, left in places of this 3.1 file: turn it into JSON Schema's null type. */
function convertNullable(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(convertNullable);
  if (typeof node !== 'object' || node === null) return node;
  const { nullable, ...rest } = node as Record<string, unknown>;
  const converted = Object.fromEntries(Object.entries(rest).map(([key, value]) => [key, convertNullable(value)]));
  if (nullable !== true) return converted;
  if (Array.isArray(converted.enum)) converted.enum = [...converted.enum, null];
  if (typeof converted.type === 'string') return { ...converted, type: [converted.type, 'null'] };
  return { anyOf: [converted, { type: 'null' }] };
}

const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
ajv.addSchema({ $id: 'openai', components: convertNullable(spec.components) }, 'openai');

export function schemaErrors(schemaName: string, data: unknown): string[] {
  if (!(schemaName in spec.components.schemas)) throw new Error(`No schema named ${schemaName} in the OpenAI spec`);
  const validate = ajv.getSchema(`openai#/components/schemas/${schemaName}`)!;
  if (validate(data)) return [];
  return (validate.errors ?? []).map((error) => `${error.instancePath || '/'} ${error.message} ${JSON.stringify(error.params)}`);
}

/** The schema of each Responses stream event, by its `type` (read from ResponseStreamEvent's
 *  members, whose `type` is a one-value enum). */
const responseEventSchemas = new Map<string, string>();
for (const member of (spec.components.schemas.ResponseStreamEvent as { anyOf: { $ref: string }[] }).anyOf) {
  const name = member.$ref.split('/').at(-1)!;
  const type = (spec.components.schemas[name] as { properties?: { type?: { enum?: string[] } } }).properties?.type?.enum?.[0];
  if (type) responseEventSchemas.set(type, name);
}

/** Validates one Responses API stream event against the schema its `type` names (and so, as
 *  one of its members, against ResponseStreamEvent). An unknown type is an error. */
export function responseEventErrors(event: { type: string }): string[] {
  const name = responseEventSchemas.get(event.type);
  if (!name) return [`no Responses stream event has the type '${event.type}'`];
  return schemaErrors(name, event);
}
