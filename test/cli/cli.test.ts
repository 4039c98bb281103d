// The command line's mistakes: one line on stderr, nothing on stdout, exit 2.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { BIN } from '../support/agent';
import { need, rootUnavailable } from '../support/requirements';

function sidelight(args: string[], prefix: string[] = []): { code: number | null; stdout: string; stderr: string } {
  const cmd = prefix.length > 0 ? prefix[0]! : process.execPath;
  const argv = prefix.length > 0 ? [...prefix.slice(1), process.execPath, BIN, ...args] : [BIN, ...args];
  const r = spawnSync(cmd, argv, { encoding: 'utf8'});
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('sidelight command line errors', () => {
  const cases: [string[], string][] = [
    [['run', '--bogus'], "sidelight: unknown option '--bogus' (see: sidelight run --help)\n"],
    [['run', '--output', 'xml'], "sidelight: option '--output <format>' argument 'xml' is invalid. Allowed choices are text, json, none. (see: sidelight run --help)\n"],
    [['run', '--pid', 'abc'], "sidelight: option '--pid <n...>' argument 'abc' is invalid. expected a number (or a comma-separated list) (see: sidelight run --help)\n"],
    [['run', '--capture-bytes', '10'], 'sidelight: invalid capture-bytes "10" (from command line): expected 64..8192\n'],
    [['run', '--port', '0'], 'sidelight: invalid ports "0" (from command line): expected a port 1..65535 or a range such as 8000-8100\n'],
    [['run', '--port', '9000-8000'], 'sidelight: invalid ports "9000-8000" (from command line): expected a port 1..65535 or a range such as 8000-8100\n'],
    [['run', '--k8s-pod-labels', 'app=a b'], 'sidelight: invalid k8s-pod-labels "app=a b" (from command line): "a b" is not a valid label value; expected key=value, key!=value, key or !key, comma-separated\n'],
    [['run', '--exe-path', 'nginx'], 'sidelight: invalid exe-paths "nginx" (from command line): expected an absolute path glob such as /usr/sbin/nginx or /opt/**/bin/*\n'],
    [['run', '--admin-port', '70000'], 'sidelight: invalid admin-port "70000" (from command line): expected 0..65535\n'],
    [['frobnicate'], "sidelight: unknown command 'frobnicate' (see: sidelight --help)\n"],
    [['record'], "sidelight: required option '--out <file>' not specified (see: sidelight record --help)\n"],
    [['replay', '/nonexistent.slrec'], "sidelight: cannot read recording /nonexistent.slrec: ENOENT: no such file or directory, open '/nonexistent.slrec'\n"],
  ];
  for (const [args, message] of cases) {
    it(`sidelight ${args.join(' ')}`, () => {
      const r = sidelight(args);
      assert.equal(r.stderr, message);
      assert.equal(r.stdout, '');
      assert.equal(r.code, 2);
    });
  }

  it('without privileges it says what to grant', (t) => {
    if (!need(t, 'drops to an unprivileged user', rootUnavailable())) return;
    const r = sidelight(['run'], ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all']);
    assert.equal(r.stderr, 'sidelight: missing privileges to load eBPF programs: run as root, or grant CAP_BPF and CAP_PERFMON\n');
    assert.equal(r.code, 2);
  });
});
