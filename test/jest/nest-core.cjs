// `require('@nestjs/core')` under Jest: see nest-common.cjs.
module.exports = globalThis.__nestEsmBridge['@nestjs/core'];
