/**
 * Failure types shared by activities and the workflow. Activities throw `ApplicationFailure`s with these as `type`; the
 * workflow decides on the type, never on message text.
 */
export const ErrorType = {
  /** The refund request breaks the RefundRequest contract. */
  InvalidRequest: 'InvalidRequest',
  /** The provider rejected our request as malformed (4xx validation). */
  ProviderValidation: 'ProviderValidation',
  /** The provider refuses the cancel for this resource (e.g. a failed Circle payment). */
  NotEligible: 'NotEligible',
  /** The cancel window has closed (Stripe's 24 h, SQUAKE past `reserved`). */
  WindowClosed: 'WindowClosed',
  /** Our credentials were refused: fix the worker's config. */
  Unauthorized: 'Unauthorized',
  /** The provider does not know the resource. */
  NotFound: 'NotFound',
  /** The same idempotency key was used for a different request. */
  IdempotencyConflict: 'IdempotencyConflict',
  /** The provider answered with a body we do not understand. */
  MalformedResponse: 'MalformedResponse',
  /** Circle's cancel settled as `failed`. */
  SettlementFailed: 'SettlementFailed',
  /** A reversal was found but its amounts differ from the original allocation. */
  ReconMismatch: 'ReconMismatch',
  /** A step's deadline passed while the saga was waiting. */
  DeadlinePassed: 'DeadlinePassed',
  /** A provider kept failing transiently for longer than the configured outage bound. */
  ProviderOutage: 'ProviderOutage',
  /**
   * The provider said retrying the same request cannot help (Stripe's `Stripe-Should-Retry: false`, e.g. a stored
   * 500 replayed under the same idempotency key). The saga sends a new key itself until the outage bound; past it,
   * an operator's `retryStep` sends the next.
   */
  DoNotRetry: 'DoNotRetry',
  /** The request's amount or currency differs from the Circle payment's. */
  AmountMismatch: 'AmountMismatch',
  /** The workflow was started with options out of bounds, or under an id other than `refund-<orderId>`. */
  InvalidOptions: 'InvalidOptions',
} as const;

export type ErrorType = (typeof ErrorType)[keyof typeof ErrorType];

/**
 * Failures that say the provider did not act on the request (it refused, our own read stopped before any change, or
 * it replayed a failure stored under the key): after any other failure, the provider may have acted.
 */
export const NOT_ACTED_ON: readonly ErrorType[] = [
  ErrorType.DoNotRetry,
  ErrorType.WindowClosed,
  ErrorType.NotEligible,
  ErrorType.NotFound,
  ErrorType.Unauthorized,
  ErrorType.ProviderValidation,
  ErrorType.IdempotencyConflict,
  ErrorType.AmountMismatch,
];

/** Every error type, for filters and documents. */
export const ERROR_TYPES = Object.values(ErrorType) as [ErrorType, ...ErrorType[]];
