import { ConfigError, loadConfig } from './config';

const key = Buffer.alloc(32, 7).toString('base64');

describe('loadConfig', () => {
  it('runs on embedded defaults with an empty environment', () => {
    const config = loadConfig({}, {});
    expect(config.mode).toBe('development');
    expect(config.temporal).toMatchObject({ kind: 'embedded', address: '127.0.0.1:7233', namespace: 'default', taskQueue: 'forlop' });
    expect(config.database.url).toBeUndefined();
    expect(config.auth.kind).toBe('dev-idp');
    expect(config.http.publicUrl).toBe('http://127.0.0.1:8080');
  });

  it('prefers options over the environment over defaults', () => {
    const config = loadConfig({ httpPort: 9000 }, { FORLOP_HTTP_PORT: '8000', TEMPORAL_ADDRESS: 'temporal:7233' });
    expect(config.http.port).toBe(9000);
    expect(config.temporal).toMatchObject({ kind: 'external', address: 'temporal:7233' });
  });

  it('reads an external FHIR server and says what is missing for it', () => {
    const config = loadConfig({}, { FORLOP_FHIR_SERVER_URL: 'https://fhir.example.no/fhir', FORLOP_FHIR_ISSUER: 'https://helseid-sts.nhn.no', FORLOP_FHIR_CLIENT_ID: 'forlop', FORLOP_FHIR_CLIENT_KEY_PATH: '/run/secrets/fhir.jwk' });
    expect(config.externalFhir).toMatchObject({ baseUrl: 'https://fhir.example.no/fhir', issuer: 'https://helseid-sts.nhn.no', clientId: 'forlop', privateKeyPath: '/run/secrets/fhir.jwk' });
    expect(() => loadConfig({}, { FORLOP_FHIR_SERVER_URL: 'https://fhir.example.no/fhir' })).toThrow(
      'FORLOP_FHIR_ISSUER is required with FORLOP_FHIR_SERVER_URL',
    );
  });

  it('names every problem at once', () => {
    let error: unknown;
    try {
      loadConfig({}, { FORLOP_MODE: 'production', FORLOP_HTTP_PORT: 'eighty', DATABASE_URL: 'mysql://x' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      "FORLOP_HTTP_PORT must be a port number (0-65535), got 'eighty'",
      "DATABASE_URL must be a postgres:// URL, got 'mysql://x'",
      'OIDC_ISSUER is required when FORLOP_AUTH=oidc (the issuer URL of HelseID or your OIDC provider)',
      'FORLOP_PAYLOAD_KEYS is required in production (keyId:base64key,...); workflow data must be encrypted with a managed key',
    ]);
  });

  it('refuses to disable authentication without the explicit flag', () => {
    expect(() => loadConfig({}, { FORLOP_AUTH: 'disabled' })).toThrow(/FORLOP_ALLOW_UNAUTHENTICATED=yes-i-understand/);
    expect(loadConfig({}, { FORLOP_AUTH: 'disabled', FORLOP_ALLOW_UNAUTHENTICATED: 'yes-i-understand' }).auth.kind).toBe('disabled');
  });

  it('reads payload keys with rotation and rejects short keys', () => {
    const config = loadConfig({}, { FORLOP_PAYLOAD_KEYS: `new:${key},old:${key}`, FORLOP_PAYLOAD_KEY_ID: 'new' });
    expect(config.payloadKeys).toEqual({ keys: { new: key, old: key }, currentKeyId: 'new' });
    expect(() => loadConfig({}, { FORLOP_PAYLOAD_KEYS: 'k:c2hvcnQ=' })).toThrow(/keyId:base64 of 32 random bytes/);
  });

  it('production with an issuer and keys is valid and requires DPoP by default', () => {
    const config = loadConfig({}, { FORLOP_MODE: 'production', OIDC_ISSUER: 'https://helseid-sts.nhn.no', FORLOP_PAYLOAD_KEYS: `k1:${key}`, DATABASE_URL: 'postgres://u:p@db/forlop' });
    expect(config.auth).toMatchObject({ kind: 'oidc', issuer: 'https://helseid-sts.nhn.no', requireDpop: true });
  });
});
