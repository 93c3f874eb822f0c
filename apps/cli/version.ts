/** The CLI reports the version the server does (one reader of package.json, in core). */
export { packageVersion } from '../../core/server/packageVersion.js';
