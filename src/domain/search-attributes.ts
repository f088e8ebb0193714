/**
 * Custom search attributes of the saga, so "all refunds needing attention" is one visibility query. The dev stack and
 * the tests register them on their server; other clusters get them through the operator service.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Overall saga status (`running`, `needs_attention`, …). */
export const RefundStatusKey = defineSearchAttributeKey('RefundStatus', SearchAttributeType.KEYWORD);
/** The step the saga is on (`payment`, `carbon`, `impact`, `recon`, or `done`). */
export const RefundStepKey = defineSearchAttributeKey('RefundStep', SearchAttributeType.KEYWORD);
/** The refunded order's id. */
export const OrderIdKey = defineSearchAttributeKey('OrderId', SearchAttributeType.KEYWORD);
/** `stripe_climate`, `squake` or `none`. */
export const CarbonProviderKey = defineSearchAttributeKey('CarbonProvider', SearchAttributeType.KEYWORD);
/** True while an operator must act. */
export const NeedsAttentionKey = defineSearchAttributeKey('NeedsAttention', SearchAttributeType.BOOL);

/** The blocked step's error type (`WindowClosed`, `ProviderOutage`, …), or `none`: the needs-attention list by why. */
export const RefundErrorTypeKey = defineSearchAttributeKey('RefundErrorType', SearchAttributeType.KEYWORD);

/** The Circle payment being cancelled, set at start, so the Circle webhook finds its saga. */
export const CirclePaymentIdKey = defineSearchAttributeKey('CirclePaymentId', SearchAttributeType.KEYWORD);

/** Every custom search attribute the saga sets or starts with. */
export const REFUND_SEARCH_ATTRIBUTES = [
  RefundStatusKey,
  RefundStepKey,
  OrderIdKey,
  CarbonProviderKey,
  NeedsAttentionKey,
  CirclePaymentIdKey,
  RefundErrorTypeKey,
];
