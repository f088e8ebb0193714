/** The task queue the saga's workers poll, unless `TEMPORAL_TASK_QUEUE` names another. */
export const TASK_QUEUE = 'refunds';
