// Structured logs on stderr; stdout carries transactions only.
import pino from 'pino';

export type Logger = pino.Logger;

export function createLogger(level: string): Logger {
  return pino({ level, base: { name: 'sidelight' } }, pino.destination({ fd: 2, sync: true }));
}
