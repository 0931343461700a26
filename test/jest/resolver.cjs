// Jest's module system cannot `require()` an ES module on Node 20 (Node itself
// can, since 20.19). jwks-rsa is CommonJS and requires jose, which is ES-only
// since v6. Under Jest only, that one require resolves to jose 5's CommonJS
// build (dev dependency "jose-v5-cjs"), which offers the two functions jwks-rsa
// uses (importJWK, exportSPKI). Every `import` of jose still gets jose 6.
module.exports = (request, options) => {
  if (request === 'jose' && options.conditions && options.conditions.includes('require')) {
    return options.defaultResolver('jose-v5-cjs', options);
  }
  return options.defaultResolver(request, options);
};
