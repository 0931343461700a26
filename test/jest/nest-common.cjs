// `require('@nestjs/common')` under Jest: the ES module namespace that
// nest-esm-bridge.mjs loaded (what Node's own require(esm) returns).
module.exports = globalThis.__nestEsmBridge['@nestjs/common'];
