import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { ListeningPorts, parseListeningPorts } from '../../src/conn/listeners';
import { spawn } from '../support/children';
import { need, rootUnavailable } from '../support/requirements';

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

describe('listening ports per network namespace', () => {
  it('asks the namespace of the process that uses the port (a pod has its own)', async (t) => {
    if (!need(t, 'makes a network namespace (ip netns)', rootUnavailable())) return;
    const ns = `sl-listen-${process.pid}`;
    const port = 47000 + (process.pid % 1000);
    execFileSync('ip', ['netns', 'add', ns]);
    // `ip netns exec` execs python in place: the child's pid is the listener's.
    const child = spawn('ip', ['netns', 'exec', ns, 'python3', '-c', `import socket,time; s=socket.socket(); s.bind(("127.0.0.1",${port})); s.listen(); print("up",flush=True); time.sleep(60)`], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await once(child.stdout!, 'data');
      const lp = new ListeningPorts();
      assert.equal(lp.has(port, child.pid!), true);
      assert.equal(lp.has(port, process.pid), false);
      assert.equal(lp.has(port), false);
      // A process already gone: the agent's own namespace is asked.
      assert.equal(lp.has(port, 4_194_000), false);
    } finally {
      child.kill('SIGKILL');
      await once(child, 'exit');
      execFileSync('ip', ['netns', 'del', ns]);
    }
  });
});
