// ESM Jest: Nest 12 ships ES modules only, so tests run under
// NODE_OPTIONS=--experimental-vm-modules (see package.json "test").
// ts-jest compiles TypeScript (transpile only: `npm test` type-checks the
// whole project first with tsc), with legacy decorators and their metadata
// from tsconfig.json, which Nest's dependency injection reads. Its output
// follows Jest's request: ES modules for `import`, CommonJS for `require`.
// CommonJS packages that require ES modules (jwks-rsa → jose, @nestjs/throttler
// → @nestjs/common and core) are served by test/jest/resolver.cjs.
const tsJest = ['ts-jest', { useESM: true, isolatedModules: true }];

const common = {
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': tsJest },
  resolver: '<rootDir>/test/jest/resolver.cjs',
  setupFiles: ['<rootDir>/test/jest/nest-esm-bridge.mjs'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testEnvironment: 'node',
};

export default {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/src/**/*.spec.ts'] },
    { ...common, displayName: 'e2e', testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'] },
  ],
  testTimeout: 20000,
};
