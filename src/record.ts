// `sidelight record`: the kernel capture's raw batches into a file, nothing
// parsed (see src/capture/recording.ts for the format).
import { Capture, captureOptions } from './capture/capture';
import { preflight } from './capture/preflight';
import { dropPrivilegesLogged } from './capture/privileges';
import { RecordingWriter } from './capture/recording';
import { ListeningPorts } from './conn/listeners';
import type { Config } from './config/config';
import type { Logger } from './log';
import { formatPortRanges } from './capture/ports';

export async function recordCapture(config: Config, file: string, log: Logger, signal: AbortSignal): Promise<void> {
  for (const note of preflight()) log.info(note);
  const capture = new Capture();
  const opts = captureOptions(config);
  const writer = new RecordingWriter(file, {
    capture: { captureBytes: opts.captureBytes, syscallCapBytes: opts.syscallCapBytes, ringBytes: opts.ringBytes, pids: opts.pids, ports: formatPortRanges(opts.ports), excludePorts: formatPortRanges(opts.excludePorts) },
    layout: capture.layout(),
    clockOffsetNs: capture.clockOffsetNs().toString(),
    listeningPorts: new ListeningPorts().snapshot(),
  });
  capture.start(opts, { onData() {}, onClose() {}, onTlsBind() {} }, (batch, count) => writer.write(batch, count));
  // The file is open and the programs attached: nothing more needs privileges.
  dropPrivilegesLogged({ tls: false }, log);
  log.info({ file, pids: config.pids, ports: formatPortRanges(config.ports) }, 'recording');
  await new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
    if (config.durationSec !== undefined) setTimeout(resolve, config.durationSec * 1000).unref();
  });
  await capture.stop();
  writer.close();
  const k = capture.stats().kernel;
  log.info({ file, batches: writer.batches, events: writer.events, bytes: writer.bytes, kernelDrops: k.ringbufDrops }, 'recorded');
}

