import { brotliCompressSync, gzipSync } from 'node:zlib';
import fs from 'node:fs';
import path from 'node:path';
import preact from '@preact/preset-vite';
import { defineConfig, type Plugin } from 'vite';

/** Writes .gz and .br next to each built JS/CSS/HTML file, which @fastify/static serves to browsers
 *  that accept them (preCompressed). Ten lines of zlib instead of a compression plugin dependency. */
function precompress(): Plugin {
  let outDir = '';
  return {
    name: 'llmsvc-precompress',
    apply: 'build',
    configResolved(config) {
      outDir = config.build.outDir;
    },
    writeBundle(_options, bundle) {
      for (const name of [...Object.keys(bundle), 'index.html']) {
        if (!/\.(js|css|html|svg)$/.test(name)) continue;
        const file = path.join(outDir, name);
        if (!fs.existsSync(file)) continue;
        const content = fs.readFileSync(file);
        fs.writeFileSync(`${file}.gz`, gzipSync(content, { level: 9 }));
        fs.writeFileSync(`${file}.br`, brotliCompressSync(content));
      }
    },
  };
}

// The admin console, served by llmsvc at /admin from dist/console (see core/server/routes/console).
export default defineConfig({
  root: import.meta.dirname,
  base: '/admin/',
  plugins: [preact(), precompress()],
  build: {
    outDir: path.resolve(import.meta.dirname, '../../../dist/console'),
    emptyOutDir: true,
    // No inline modulepreload polyfill or data: URLs: the page's CSP allows only files from 'self'.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
    reportCompressedSize: false,
  },
  server: { proxy: { '/admin/v1': 'http://127.0.0.1:8080', '/v1': 'http://127.0.0.1:8080' } },
});
