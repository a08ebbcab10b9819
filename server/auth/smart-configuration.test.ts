import { capabilityStatementSecurity, smartConfiguration } from './smart-configuration';

const input = { issuer: 'https://helseid-sts.nhn.no', tokenEndpoint: 'https://helseid-sts.nhn.no/connect/token', jwksUri: 'https://helseid-sts.nhn.no/.well-known/openid-configuration/jwks', dpopRequired: true };

describe('security metadata', () => {
  it('advertises SMART-on-FHIR and the token endpoint in the CapabilityStatement', () => {
    const security = capabilityStatementSecurity(input);
    expect(security.service[0].coding[0]).toEqual({ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR', display: 'SMART-on-FHIR' });
    expect(security.extension[0].extension).toEqual([{ url: 'token', valueUri: input.tokenEndpoint }]);
    expect(security.description).toContain('DPoP-bound (RFC 9449) as required');
  });

  it('describes backend-services access in smart-configuration', () => {
    expect(smartConfiguration(input)).toMatchObject({
      issuer: input.issuer,
      token_endpoint: input.tokenEndpoint,
      grant_types_supported: ['client_credentials'],
      token_endpoint_auth_methods_supported: ['private_key_jwt'],
      capabilities: expect.arrayContaining(['client-confidential-asymmetric', 'permission-v2']),
    });
  });
});
