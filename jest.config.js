// ESM Jest: Nest 12 ships ES modules only, so tests run under
// NODE_OPTIONS=--experimental-vm-modules (see package.json "test").
// @swc/jest compiles TypeScript with legacy decorators and decorator metadata,
// which Nest's dependency injection reads. Its module type follows Jest's
// request: ES modules for `import`, CommonJS for `require`. That matters for
// jose, an ES-module-only package that jwks-rsa (CommonJS) requires: Node
// 20.19+ loads it natively, Jest's module system cannot, so Jest transforms it.
const swc = [
  '@swc/jest',
  {
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2022',
      keepClassNames: true,
    },
    sourceMaps: 'inline',
  },
];

const common = {
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.(ts|js)$': swc },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testEnvironment: 'node',
  transformIgnorePatterns: ['/node_modules/(?!jose/)'],
};

export default {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/src/**/*.spec.ts'] },
    { ...common, displayName: 'e2e', testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'] },
  ],
  testTimeout: 20000,
};
