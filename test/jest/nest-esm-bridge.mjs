// Node 20.19+ lets CommonJS `require()` an ES module; Jest's module system
// cannot. @nestjs/throttler is CommonJS and requires @nestjs/common and
// @nestjs/core, which are ES modules since Nest 12. This setup file imports
// them the ES way (the same instances the test imports) and leaves them where
// test/jest/nest-required.cjs hands them to `require()`, as Node would.
import * as common from '@nestjs/common';
import * as core from '@nestjs/core';

globalThis.__nestEsmBridge = { '@nestjs/common': common, '@nestjs/core': core };
