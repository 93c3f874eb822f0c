#!/usr/bin/env node
// The `llmsvc` executable. It loads the command from dist/cli-bundle/ (scripts/bundleCli.ts: a few
// chunks instead of ~630 modules, which made most of `serve`'s time to listen) when the build made
// a current one, else cli.js and its modules one by one: from the sources under tsx, after a tsc
// build without bundling, or with LLMSVC_CLI_BUNDLE=0.
import './compileCache.js';
import { bundleUnusableReason } from '../../core/startupBundle.js';

const bundleDir = new URL('../../cli-bundle/', import.meta.url);
const fromSources = import.meta.url.endsWith('.ts');
const bundled = !fromSources && process.env.LLMSVC_CLI_BUNDLE !== '0' && bundleUnusableReason(bundleDir) === undefined;
await import(bundled ? new URL('cli.js', bundleDir).href : './cli.js');
