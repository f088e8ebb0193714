// Workers log every state change at INFO and every failed activity attempt at WARN; tests inject those on purpose.
import { DefaultLogger, Runtime } from '@temporalio/worker';

Runtime.install({ logger: new DefaultLogger('ERROR') });
