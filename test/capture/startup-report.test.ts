import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ProgramStatus } from '../../src/capture/addon';
import { startupReport, verboseReadiness } from '../../src/capture/startup-report';

const prog = (name: string, hook: string, required: boolean, attached: boolean, error = ''): ProgramStatus => ({ name, hook, required, attached, error });

describe('start-up report', () => {
  const programs = [
    prog('sl_connect', 'tracepoint/syscalls/sys_exit_connect', true, true),
    prog('sl_sendmsg', 'tp_btf/tcp_sendmsg_locked', false, false, 'tp_btf/tcp_sendmsg_locked: not in this kernel'),
    prog('sl_close', 'tracepoint/sock/inet_sock_set_state', true, false, 'permission denied'),
    prog('sl_ssl_write_enter', 'uprobe', false, false, ''),
  ];

  it('lists the kernel, the BTF source, programs attached, optional ones left out and required ones failed; uprobes are the TLS scan\'s', () => {
    assert.deepEqual(startupReport(programs, 'standard', '6.1.0-27-cloud-amd64'), {
      kernel: '6.1.0-27-cloud-amd64',
      btf: '/sys/kernel/btf/vmlinux',
      build: 'standard',
      attached: ['sl_connect'],
      skipped: [{ name: 'sl_sendmsg', hook: 'tp_btf/tcp_sendmsg_locked', reason: 'tp_btf/tcp_sendmsg_locked: not in this kernel' }],
      failed: [{ name: 'sl_close', hook: 'tracepoint/sock/inet_sock_set_state', reason: 'permission denied' }],
    });
  });

  it('/readyz?verbose: one line per check', () => {
    assert.equal(
      verboseReadiness(startupReport(programs, 'compat', '5.10.0')),
      [
        '[+]kernel 5.10.0, BTF /sys/kernel/btf/vmlinux, programs: compat build (no atomic fetch before 5.12)',
        '[+]program sl_connect attached',
        '[-]program sl_sendmsg (tp_btf/tcp_sendmsg_locked) left out, optional: tp_btf/tcp_sendmsg_locked: not in this kernel',
        '[-]program sl_close (tracepoint/sock/inet_sock_set_state) failed, required: permission denied',
        '',
      ].join('\n'),
    );
  });

  it('names each build of the programs', () => {
    const first = (build: 'fast' | 'standard' | 'compat') => verboseReadiness(startupReport([], build, '6.18.0')).split('\n')[0];
    assert.deepEqual(
      [first('fast'), first('standard')],
      ['[+]kernel 6.18.0, BTF /sys/kernel/btf/vmlinux, programs: fast build (bpf_rdonly_cast loads, 6.2 and later)', '[+]kernel 6.18.0, BTF /sys/kernel/btf/vmlinux, programs: standard build'],
    );
  });
});
