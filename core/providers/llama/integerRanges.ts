/** The most values an integer range may have to be written into the grammar as their list: enough
 *  for ages, percentages, ratings and hours. The list costs the grammar time at every step (tiny
 *  model, loaded machine, one 40-token answer: 64 values 0.19 s, 1,000 values 0.72 s, 5,000 2.4 s),
 *  so wider ranges stay unbounded safe integers. */
export const maxEnumeratedRange = 256;

type Schema = Record<string, unknown>;

const isSchema = (value: unknown): value is Schema => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The smallest and largest integers a schema's minimum/maximum (and their exclusive forms) allow. */
function integerBounds(schema: Schema): { low: number; high: number } | undefined {
  const number = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);
  const minimum = number(schema.minimum);
  const maximum = number(schema.maximum);
  const exclusiveMinimum = number(schema.exclusiveMinimum);
  const exclusiveMaximum = number(schema.exclusiveMaximum);
  const lows = [minimum !== undefined ? Math.ceil(minimum) : undefined, exclusiveMinimum !== undefined ? Math.floor(exclusiveMinimum) + 1 : undefined].filter((v) => v !== undefined);
  const highs = [maximum !== undefined ? Math.floor(maximum) : undefined, exclusiveMaximum !== undefined ? Math.ceil(exclusiveMaximum) - 1 : undefined].filter((v) => v !== undefined);
  if (lows.length === 0 || highs.length === 0) return undefined;
  return { low: Math.max(...lows), high: Math.min(...highs) };
}

/** The schema with each small bounded integer range (`{type: "integer", minimum: 1, maximum: 5}`)
 *  written as the list of its values. node-llama-cpp's grammar builder has no minimum/maximum (its
 *  number terminal knows only whether fractions are allowed), but it writes an enum exactly, so a
 *  range of up to maxEnumeratedRange values is honoured by the grammar itself. Wider ranges and
 *  bounded non-integers are left as they are (see the report of issue 12). */
export function enumerateIntegerRanges<T>(schema: T): T {
  if (Array.isArray(schema)) return schema.map((item) => enumerateIntegerRanges(item)) as T;
  if (!isSchema(schema)) return schema;
  if (schema.type === 'integer' && schema.enum === undefined && schema.const === undefined) {
    const bounds = integerBounds(schema);
    if (bounds && bounds.high >= bounds.low && bounds.high - bounds.low < maxEnumeratedRange) {
      const { type: _type, minimum: _min, maximum: _max, exclusiveMinimum: _xmin, exclusiveMaximum: _xmax, ...rest } = schema;
      return { ...rest, enum: Array.from({ length: bounds.high - bounds.low + 1 }, (_, index) => bounds.low + index) } as T;
    }
  }
  const result: Schema = {};
  for (const [key, value] of Object.entries(schema)) {
    // Only the places that hold schemas: a property literally named "minimum" is left alone.
    if (key === 'properties' || key === '$defs' || key === 'definitions') {
      result[key] = isSchema(value) ? Object.fromEntries(Object.entries(value).map(([name, child]) => [name, enumerateIntegerRanges(child)])) : value;
    } else if (['items', 'prefixItems', 'anyOf', 'oneOf', 'allOf', 'additionalProperties'].includes(key)) {
      result[key] = enumerateIntegerRanges(value);
    } else {
      result[key] = value;
    }
  }
  return result as T;
}
