import { ApiError } from '../errors/index.js';
import type { AttributeFilter } from '../store/vectors/index.js';
import type { FilterInput } from './requests.js';

function badFilter(message: string): ApiError {
  return new ApiError('LLMSVC_ERR_INVALID_PARAM', `Invalid value for 'filters': ${message}.`, 'filters');
}

/** OpenAI's filters as the vector index takes them: `in` and `nin` (which the index has no
 *  operator for) become an `or` of `eq`s and an `and` of `ne`s. */
export function toAttributeFilter(filter: FilterInput): AttributeFilter {
  if ('filters' in filter) return { type: filter.type, filters: filter.filters.map(toAttributeFilter) };
  const { type, key, value } = filter;
  if (type === 'in' || type === 'nin') {
    if (!Array.isArray(value) || value.length === 0) throw badFilter(`'${type}' on '${key}' takes a non-empty array of values`);
    const each = value.map((item): AttributeFilter => ({ type: type === 'in' ? 'eq' : 'ne', key, value: item }));
    return { type: type === 'in' ? 'or' : 'and', filters: each };
  }
  if (Array.isArray(value)) throw badFilter(`'${type}' on '${key}' takes one string, number or boolean; use 'in' or 'nin' for a list`);
  if ((type === 'gt' || type === 'gte' || type === 'lt' || type === 'lte') && typeof value === 'boolean') {
    throw badFilter(`'${type}' on '${key}' compares numbers or strings, not booleans`);
  }
  return { type, key, value };
}
