/** SQLite columns are snake_case, TypeScript fields camelCase: the renaming is mechanical, so it
 *  is done here once rather than field by field in every repository. */
const toCamel = (name: string) => name.replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase());
const toSnake = (name: string) => name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);

export function camelCaseRow(row: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(row).map(([key, value]) => [toCamel(key), value]));
}

export function snakeCaseRow(record: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [toSnake(key), value]));
}
