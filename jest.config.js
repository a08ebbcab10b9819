// Jest runs TypeScript through SWC, with --experimental-vm-modules (see the
// `jest` script) because PGlite's Emscripten module loads node:module with a
// dynamic import(). Most of our dependencies are CommonJS,
// but jose, openid-client (and its oauth4webapi) and oidc-provider ship only
// ECMAScript modules: SWC transforms them to CommonJS for Jest's module
// registry, which cannot load ESM without --experimental-vm-modules.
const esmOnly = ['jose', 'openid-client', 'oauth4webapi', 'oidc-provider'];

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>'],
  testMatch: ['**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/', '/data/'],
  transform: {
    '^.+\\.(t|j|mj)s$': [
      '@swc/jest',
      {
        jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
        module: { type: 'commonjs' },
      },
    ],
  },
  transformIgnorePatterns: [`/node_modules/(?!(${esmOnly.join('|')})/)`],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'json'],
  // Integration tests start real servers; give them room but not forever.
  testTimeout: 60_000,
};
