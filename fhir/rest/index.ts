export { capabilityStatement, handle, ROUTES, type Route } from './router';
export { RESOURCE_TYPES, type FhirRequest, type FhirResponse } from './request';
export type { CapabilityOptions } from './capability';
