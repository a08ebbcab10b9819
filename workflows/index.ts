// The workflows a Forløp worker runs (the entry point the SDK bundles).
export { familyPathway } from './family-pathway';
export { handoffWorkflow } from './handoff';
export { subscriptionDelivery } from './subscription-delivery';
