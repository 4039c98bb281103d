import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseListeningPorts } from '../../src/conn/listeners';

describe('listening ports from /proc/net/tcp', () => {
  it('keeps LISTEN sockets only', () => {
    const table = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0',
      '   1: 0100007F:D2F0 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0 20 4 30 10 -1',
      '',
    ].join('\n');
    assert.deepEqual([...parseListeningPorts(table)], [8080]);
    const v6 = '  sl  local_address\n   0: 00000000000000000000000000000000:01BB 00000000000000000000000000000000:0000 0A 0\n';
    assert.deepEqual([...parseListeningPorts(v6)], [443]);
  });
});
