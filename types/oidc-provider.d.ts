// oidc-provider ships no type declarations; we use a small, typed surface of it
// through server/ and test helpers.
declare module 'oidc-provider' {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const Provider: any;
  export default Provider;
}
