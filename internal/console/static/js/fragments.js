// GraphQL selections shared by the tenant page and its parts (retention,
// exports), so a mutation's payload and the live stream carry the same fields.

/** An operation as the tenant page draws it, progress and steps included. */
export const OP_FIELDS = 'id kind status attempt requestedBy createdAt updatedAt startedAt finishedAt progress { done total fraction phase rows rowsTotal bytes bytesTotal writePauseMs } steps { name status startedAt finishedAt detail } error { code message }';

/** A row of the audited timeline. */
export const TR_FIELDS = 'id seq event fromState toState triggeredBy actor reason occurredAt hash';

/** What changes on a tenant with each transition or subscription change (the live stream carries it). */
export const TENANT_HEAD = 'id state stateChangedAt allowedEvents purgeAfter purgedAt stateBeforeDeletion '
  + 'scheduledCancellation { effectiveAt feedback requestedAt requestedBy } pausedUntil';
