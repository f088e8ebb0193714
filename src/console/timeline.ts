/**
 * A refund's timeline as an operator reads it: each provider call, wait and override of the run's history, one row
 * each, in words (the activity and timer summaries the saga writes) rather than Temporal's event types.
 */
import type { LoadedDataConverter } from '@temporalio/common';
import { decodeUserMetadata } from '@temporalio/common/lib/internal-non-workflow';
import { temporal } from '@temporalio/proto';

const EventType = temporal.api.enums.v1.EventType;
type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** What a timeline row stands for. */
export type TimelineKind = 'saga' | 'call' | 'wait' | 'override' | 'signal';

/** One row: a provider call, a wait, an override, or the saga's start or end. */
export interface TimelineEntry {
  kind: TimelineKind;
  /** When it began, ISO. */
  at: string;
  /** What it was, in words: the saga's own summary when it wrote one. */
  what: string;
  /** How it ended, or that it is still going: `completed`, `failed`, `fired`, `waiting`, `running`, … */
  outcome: string;
  /** When it ended, ISO. */
  endedAt?: string;
  /** The attempt that ended it, when more than one was needed. */
  attempts?: number;
  /** The failure's type and message, for a call that failed. */
  failure?: string;
}

/** Rows shown at most: a saga that waited for days has one per poll. */
export const TIMELINE_LIMIT = 300;

/** An event's time: its seconds are a Long from the server and a number from a history file. */
const iso = ({ eventTime }: HistoryEvent) =>
  new Date(Number(eventTime?.seconds ?? 0) * 1000 + Math.floor((eventTime?.nanos ?? 0) / 1e6)).toISOString();

const failureText = (failure: temporal.api.failure.v1.IFailure | null | undefined) => {
  if (!failure) return undefined;
  // An activity's failure wraps the ApplicationFailure that says why.
  const cause = failure.cause ?? failure;
  const type = cause.applicationFailureInfo?.type;
  return type ? `${type}: ${cause.message ?? ''}` : (cause.message ?? undefined);
};

const END_OF_RUN: Partial<Record<number, string>> = {
  [EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED]: 'completed',
  [EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED]: 'failed',
  [EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED]: 'terminated',
  [EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT]: 'timed out',
  [EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED]: 'canceled',
  [EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW]: 'continued as new',
};

/**
 * The timeline of a run's history, oldest first, at most {@link TIMELINE_LIMIT} rows (the newest), and how many older
 * rows were left out. Summaries are decoded with `dataConverter`, so they read in clear when payloads are encrypted.
 */
export async function timelineOf(
  history: temporal.api.history.v1.IHistory,
  dataConverter: LoadedDataConverter,
): Promise<{ entries: TimelineEntry[]; omitted: number }> {
  const entries: TimelineEntry[] = [];
  // Calls by their scheduled event, waits by their started event, updates by their id: what later events refer to.
  const open = new Map<string, TimelineEntry>();
  const end = (key: unknown, event: HistoryEvent, outcome: string, failure?: string) => {
    const entry = open.get(String(key));
    if (!entry) return;
    Object.assign(entry, { outcome, endedAt: iso(event) }, failure && { failure });
    open.delete(String(key));
  };
  const summaryOf = async (event: HistoryEvent) =>
    (await decodeUserMetadata(dataConverter, event.userMetadata).catch(() => undefined))?.staticSummary;

  for (const event of history.events ?? []) {
    const at = iso(event);
    switch (event.eventType) {
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
        entries.push({ kind: 'saga', at, what: (await summaryOf(event)) ?? 'Refund started', outcome: 'started' });
        break;
      case EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: {
        const name = event.activityTaskScheduledEventAttributes?.activityType?.name ?? 'activity';
        const entry: TimelineEntry = { kind: 'call', at, what: (await summaryOf(event)) ?? name, outcome: 'running' };
        open.set(String(event.eventId), entry);
        entries.push(entry);
        break;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED: {
        const attrs = event.activityTaskStartedEventAttributes;
        const entry = open.get(String(attrs?.scheduledEventId));
        if (entry && (attrs?.attempt ?? 1) > 1) entry.attempts = attrs!.attempt!;
        break;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
        end(event.activityTaskCompletedEventAttributes?.scheduledEventId, event, 'completed');
        break;
      case EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED: {
        const attrs = event.activityTaskFailedEventAttributes;
        end(attrs?.scheduledEventId, event, 'failed', failureText(attrs?.failure));
        break;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
        end(event.activityTaskTimedOutEventAttributes?.scheduledEventId, event, 'timed out');
        break;
      case EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED:
        end(event.activityTaskCanceledEventAttributes?.scheduledEventId, event, 'cancelled');
        break;
      case EventType.EVENT_TYPE_TIMER_STARTED: {
        const attrs = event.timerStartedEventAttributes;
        const seconds = Number(attrs?.startToFireTimeout?.seconds ?? 0);
        const entry: TimelineEntry = {
          kind: 'wait',
          at,
          what: (await summaryOf(event)) ?? `Wait ${seconds} s`,
          outcome: 'waiting',
        };
        open.set(`timer:${attrs?.timerId}`, entry);
        entries.push(entry);
        break;
      }
      case EventType.EVENT_TYPE_TIMER_FIRED:
        end(`timer:${event.timerFiredEventAttributes?.timerId}`, event, 'elapsed');
        break;
      case EventType.EVENT_TYPE_TIMER_CANCELED:
        // A wait cut short: an override, a webhook or a poll answered first.
        end(`timer:${event.timerCanceledEventAttributes?.timerId}`, event, 'cut short');
        break;
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED: {
        const attrs = event.workflowExecutionUpdateAcceptedEventAttributes;
        const name = attrs?.acceptedRequest?.input?.name ?? 'update';
        const entry: TimelineEntry = { kind: 'override', at, what: `Override ${name}`, outcome: 'accepted' };
        open.set(`update:${attrs?.acceptedRequest?.meta?.updateId}`, entry);
        entries.push(entry);
        break;
      }
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED: {
        const attrs = event.workflowExecutionUpdateCompletedEventAttributes;
        const failure = attrs?.outcome?.failure;
        end(`update:${attrs?.meta?.updateId}`, event, failure ? 'refused' : 'applied', failureText(failure));
        break;
      }
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED: {
        const name = event.workflowExecutionSignaledEventAttributes?.signalName ?? 'signal';
        entries.push({ kind: 'signal', at, what: `Signal ${name}`, outcome: 'received' });
        break;
      }
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED:
        entries.push({
          kind: 'signal',
          at,
          what: 'Cancellation requested in Temporal (handled as an abort)',
          outcome: 'received',
        });
        break;
      default: {
        const ended = END_OF_RUN[event.eventType ?? 0];
        if (ended) entries.push({ kind: 'saga', at, what: 'Run ended', outcome: ended });
      }
    }
  }
  const omitted = Math.max(0, entries.length - TIMELINE_LIMIT);
  return { entries: entries.slice(omitted), omitted };
}
