import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** llmsvc's version, from package.json (two levels up from the source, three from dist/). */
export function packageVersion(): string {
  for (const candidate of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = require(candidate) as { name?: string; version?: string };
      if (pkg.name === 'llmsvc' && pkg.version) return pkg.version;
    } catch {
      // try the next location
    }
  }
  return '0.0.0';
}
