import fs from 'node:fs';
import path from 'node:path';
import { buildInfoFile, defaultFastAddonDir } from '../../core/runtimes/llama/fastAddon.js';

/** Where the tests find llmsvc's fast addon. CI builds it into a folder of its own
 *  (LLMSVC_TEST_FAST_ADDON_DIR, see .ci/run) so that the rest of the suite runs on the prebuilt
 *  addon a plain `npm install` gives; tests that want the fast addon pass this folder explicitly. */
export const testFastAddonDir = process.env.LLMSVC_TEST_FAST_ADDON_DIR || process.env.LLMSVC_FAST_ADDON_DIR || defaultFastAddonDir()!;

export const fastAddonBuilt = fs.existsSync(path.join(testFastAddonDir, buildInfoFile));

/** A skip reason when the addon is not built; CI builds it, so there a missing build fails instead. */
export const skipUnlessFastAddon: string | false =
  fastAddonBuilt || process.env.CI === 'true' ? false : `the fast addon is not built in ${testFastAddonDir} (npm run build:fast-addon needs g++)`;
