/**
 * Retry policies as Temporal's server completes and applies them
 * (https://docs.temporal.io/encyclopedia/retry-policies): the SDK sends them
 * without defaults, the server fills in initial interval 1 s, coefficient 2,
 * maximum interval 100x the initial one, unlimited attempts.
 */
import { duration, durationMs, type Msg } from './proto';

export function withRetryDefaults(policy: Msg | undefined | null): Msg {
  const initial = durationMs(policy?.initialInterval) || 1000;
  return {
    initialInterval: duration(initial),
    backoffCoefficient: policy?.backoffCoefficient && policy.backoffCoefficient >= 1 ? policy.backoffCoefficient : 2,
    maximumInterval: duration(durationMs(policy?.maximumInterval) || initial * 100),
    maximumAttempts: policy?.maximumAttempts ?? 0,
    nonRetryableErrorTypes: policy?.nonRetryableErrorTypes ?? [],
  };
}

/** The pause before attempt `attempt + 1`. */
export function retryDelay(policy: Msg, attempt: number): number {
  const initial = durationMs(policy.initialInterval) || 1000;
  const max = durationMs(policy.maximumInterval) || initial * 100;
  return Math.min(max, initial * Math.pow(policy.backoffCoefficient || 2, attempt - 1));
}
