/** Provider timestamps, validated before they reach workflow code, where an unreadable date would fail every task. */
import { z } from 'zod';

/** An ISO 8601 date-time, with `Z` or an offset. */
export const Timestamp = z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time' });
