// The selection stage in front of the connection streams: events of
// processes the selection leaves out go no further (one Map lookup each).
import type { EventSink } from '../capture/events';

export interface ProcessFilter {
  wants(tgid: number): boolean;
}

export function selectionGate(filter: ProcessFilter, next: EventSink): EventSink {
  return {
    onData: (ev) => {
      if (filter.wants(ev.tgid)) next.onData(ev);
    },
    // A close from the TCP state change runs in whatever task the kernel was in (another
    // process's softirq): its tgid says nothing. Closes go by connection id; the streams
    // ignore ids they do not track.
    onClose: (ev) => next.onClose(ev),
    // A bind runs in the session's process (its SSL call or its write).
    onTlsBind: (ev) => {
      if (filter.wants(ev.tgid)) next.onTlsBind(ev);
    },
  };
}
