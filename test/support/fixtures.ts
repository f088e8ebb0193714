/** Refund requests for tests. */

/** The example request of docs/design.md ("RefundRequest"), with a fresh order id when `orderId` is given. */
export function validRequest(orderId = 'ord_123') {
  return {
    orderId,
    reason: 'order refunded',
    amount: { value: '12.60', currency: 'USD' },
    payment: { provider: 'circle', paymentId: 'b8627ae8-732b-4d25-b947-1df8f4007a29' },
    carbon: { provider: 'stripe_climate', orderId: 'climorder_1aTnU0B63jkB3XAQKUbA5yyl' } as
      { provider: 'stripe_climate'; orderId: string } | { provider: 'squake'; purchaseId: string } | null,
    impact: { provider: '1clickimpact', userId: 'U1234', timeUtc: '2025-03-12T15:22:14.753Z' } as {
      provider: '1clickimpact';
      userId: string;
      timeUtc: string;
    } | null,
    recon: { fundsAllocationId: 'b7e9c4a2-8f31-4d6e-a529-3c7b8e1f0d42', consumerReference: 'consumer_123' } as {
      fundsAllocationId: string;
      consumerReference: string;
    } | null,
  };
}
