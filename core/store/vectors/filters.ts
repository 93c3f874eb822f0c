import { ApiError } from '../../errors/index.js';
import type { AttributeFilter, AttributeValue, Attributes } from './types.js';

/** Attribute values are kept in a key/value table with their JSON kind beside them, so that a
 *  comparison never crosses kinds (SQLite would otherwise order every number before every string,
 *  and `true` would equal 1). */
export type AttributeKind = 'string' | 'number' | 'boolean';

export interface AttributeRow {
  key: string;
  kind: AttributeKind;
  value: string | number;
}

export function attributeKind(value: AttributeValue): AttributeKind {
  return typeof value === 'string' ? 'string' : typeof value === 'number' ? 'number' : 'boolean';
}

function sqlValue(value: AttributeValue): string | number {
  return typeof value === 'boolean' ? (value ? 1 : 0) : value;
}

export function attributeRows(attributes: Attributes): AttributeRow[] {
  return Object.entries(attributes).map(([key, value]) => ({ key, kind: attributeKind(value), value: sqlValue(value) }));
}

export interface SqlFragment {
  sql: string;
  params: (string | number)[];
}

const operators = { eq: '=', gt: '>', gte: '>=', lt: '<', lte: '<=' } as const;
const maxDepth = 16;

/** Compiles a filter into a SQL condition on the file whose row id is `fileIdColumn`, evaluated
 *  against `attributesTable` (file, key, kind, value). Keys and values are bound, never spliced.
 *  `ne` is the negation of `eq`, so a file without the key matches `ne`. */
export function compileFilter(filter: AttributeFilter, attributesTable: string, fileIdColumn: string): SqlFragment {
  const params: (string | number)[] = [];
  const compile = (node: AttributeFilter, depth: number, path: string): string => {
    if (depth > maxDepth) throw invalid(`nests deeper than ${maxDepth} levels; flatten it`, path);
    switch (node.type) {
      case 'and':
      case 'or': {
        if (!Array.isArray(node.filters)) throw invalid(`of type '${node.type}' needs a 'filters' array`, path);
        // An empty conjunction is true and an empty disjunction false, as in logic.
        if (node.filters.length === 0) return node.type === 'and' ? '1' : '0';
        const parts = node.filters.map((child, i) => compile(child, depth + 1, `${path}.filters[${i}]`));
        return `(${parts.join(node.type === 'and' ? ' AND ' : ' OR ')})`;
      }
      case 'eq':
      case 'ne':
      case 'gt':
      case 'gte':
      case 'lt':
      case 'lte': {
        if (typeof node.key !== 'string') throw invalid("needs a string 'key'", path);
        const value = node.value as unknown;
        if (typeof value !== 'string' && typeof value !== 'boolean' && !(typeof value === 'number' && Number.isFinite(value))) {
          throw invalid("needs a 'value' that is a string, a finite number or a boolean", path);
        }
        const kind = attributeKind(value);
        if (kind === 'boolean' && node.type !== 'eq' && node.type !== 'ne') {
          throw invalid(`compares a boolean with '${node.type}'; booleans support only 'eq' and 'ne'`, path);
        }
        const operator = operators[node.type === 'ne' ? 'eq' : node.type];
        params.push(node.key, kind, sqlValue(value));
        const exists = `EXISTS (SELECT 1 FROM ${attributesTable} a WHERE a.file = ${fileIdColumn} AND a.key = ? AND a.kind = ? AND a.value ${operator} ?)`;
        return node.type === 'ne' ? `NOT ${exists}` : exists;
      }
      default:
        throw invalid(`has an unknown type '${String((node as { type: unknown }).type)}'; use eq, ne, gt, gte, lt, lte, and or or`, path);
    }
  };
  return { sql: compile(filter, 0, 'filters'), params };
}

function invalid(problem: string, param: string): ApiError {
  return new ApiError('LLMSVC_ERR_INVALID_PARAM', `The filter at ${param} ${problem}.`, param);
}
