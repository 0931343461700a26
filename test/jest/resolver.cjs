// Jest's module system cannot `require()` an ES module on Node 20 (Node
// itself can, since 20.19). Under Jest only, the CommonJS packages that do so
// are served differently; every `import` resolves as usual.
// - jwks-rsa requires jose (ES-only since v6): it gets jose 5's CommonJS build
//   (dev dependency "jose-v5-cjs"), which has the two functions it uses
//   (importJWK, exportSPKI).
// - @nestjs/throttler requires @nestjs/common and @nestjs/core (ES-only since
//   Nest 12): it gets the very ES module instances the test imported, through
//   nest-esm-bridge.mjs (a setup file), as Node's require(esm) would.
const path = require('node:path');

const BRIDGED = {
  '@nestjs/common': path.join(__dirname, 'nest-common.cjs'),
  '@nestjs/core': path.join(__dirname, 'nest-core.cjs'),
};

module.exports = (request, options) => {
  const required = options.conditions && options.conditions.includes('require');
  if (required && request === 'jose') return options.defaultResolver('jose-v5-cjs', options);
  if (required && BRIDGED[request]) return BRIDGED[request];
  return options.defaultResolver(request, options);
};
