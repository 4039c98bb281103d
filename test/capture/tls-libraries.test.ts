// Finding TLS libraries: exported OpenSSL symbols read from ELF files, and
// executable file mappings read from /proc/<pid>/maps text.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { exportedSymbols } from '../../src/capture/tls/elf';
import { devString } from '../../src/capture/tls/libraries';
import { executableMappings } from '../../src/capture/tls/proc-maps';

const LIBSSL = '/usr/lib/x86_64-linux-gnu/libssl.so.3';

describe('TLS library discovery', () => {
  it('reads exported symbols from .dynsym: libssl, node (static OpenSSL + N-API), and files without them', () => {
    assert.deepEqual(
      [...exportedSymbols(LIBSSL, ['SSL_read', 'SSL_write', 'SSL_read_ex', 'napi_module_register', 'no_such_symbol'])].sort(),
      ['SSL_read', 'SSL_read_ex', 'SSL_write'],
    );
    assert.deepEqual([...exportedSymbols(process.execPath, ['SSL_read', 'SSL_write', 'napi_module_register'])].sort(), ['SSL_read', 'SSL_write', 'napi_module_register']);
    // A file that defines none of them.
    assert.deepEqual([...exportedSymbols('/bin/true', ['SSL_read', 'SSL_write'])], []);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sidelight-elf-'));
    try {
      fs.writeFileSync(`${dir}/text`, 'not an ELF file at all, just text that is long enough to read a header from it');
      assert.deepEqual([...exportedSymbols(`${dir}/text`, ['SSL_read'])], []);
      fs.writeFileSync(`${dir}/cut`, fs.readFileSync('/bin/true').subarray(0, 64));
      assert.throws(() => exportedSymbols(`${dir}/cut`, ['SSL_read']), /file cut short/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lists each executable file mapping once, with its dev:inode key and a deleted mark', () => {
    const maps = [
      '55d0c0a00000-55d0c0a10000 r--p 00000000 fe:00 100 /usr/sbin/nginx',
      '55d0c0a10000-55d0c0a80000 r-xp 00010000 fe:00 100 /usr/sbin/nginx',
      '55d0c0a80000-55d0c0aa0000 r--p 00080000 fe:00 100 /usr/sbin/nginx',
      '55d0c1000000-55d0c1021000 rw-p 00000000 00:00 0 [heap]',
      '7f0000000000-7f0000010000 r--p 00000000 fe:00 200 /usr/share/locale/data',
      '7f0000100000-7f0000200000 r-xp 00035000 fe:00 339900 /usr/lib/x86_64-linux-gnu/libssl.so.3',
      '7f0000300000-7f0000400000 r-xp 00000000 fe:01 77 /opt/my app/lib/libssl.so.1.1 (deleted)',
      '7f0000500000-7f0000501000 rw-p 00000000 00:00 0 ',
      '7ffd00000000-7ffd00002000 r-xp 00000000 00:00 0 [vdso]',
      '',
    ].join('\n');
    assert.deepEqual(executableMappings(maps), [
      { key: 'fe:00 100', path: '/usr/sbin/nginx', deleted: false },
      { key: 'fe:00 339900', path: '/usr/lib/x86_64-linux-gnu/libssl.so.3', deleted: false },
      { key: 'fe:01 77', path: '/opt/my app/lib/libssl.so.1.1', deleted: true },
    ]);
  });

  it('formats device numbers as /proc/<pid>/maps does, and matches a real mapping', () => {
    assert.equal(devString(0xfe00), 'fe:00');
    // major 259, minor 1 (an NVMe partition): minor's low byte, major << 8.
    assert.equal(devString((1 & 0xff) | ((259 & 0xfff) << 8)), '103:01');
    const st = fs.statSync(process.execPath);
    const mine = executableMappings(fs.readFileSync('/proc/self/maps', 'utf8')).find((m) => m.path === fs.realpathSync(process.execPath));
    assert.equal(mine?.key, `${devString(st.dev)} ${st.ino}`);
  });
});
